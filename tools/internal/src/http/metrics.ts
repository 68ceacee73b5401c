/** Label values of one series. */
export type Labels = Readonly<Record<string, string | number>>

type Series = Array<[labels: Labels, value: number]>

interface Family {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge'
  /** Counted values, by their labels' key. */
  readonly values: Map<string, [Labels, number]>
  /** Read when rendered, for gauges of state held elsewhere. */
  readonly collect?: () => number | Series
}

/** What a registry holds, as plain data: what a cluster's processes send to be added up. */
export type MetricsSnapshot = ReadonlyArray<{
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge'
  readonly series: Series
}>

/** A monotonic count. */
export interface Counter {
  inc(labels?: Labels, by?: number): void
}

/** A value that goes up and down. */
export interface Gauge {
  inc(labels?: Labels, by?: number): void
  dec(labels?: Labels, by?: number): void
}

function keyOf(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))
}

function escapeLabel(value: string | number): string {
  return String(value).replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
}

function line(name: string, labels: Labels, value: number): string {
  const entries = Object.entries(labels)
  const rendered = entries.map(([key, text]) => `${key}="${escapeLabel(text)}"`).join(',')
  return `${name}${entries.length > 0 ? `{${rendered}}` : ''} ${value}`
}

/** Prometheus text exposition format 0.0.4 of a snapshot. */
export function renderMetrics(snapshot: MetricsSnapshot): string {
  const lines: string[] = []
  for (const family of snapshot) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`)
    for (const [labels, value] of family.series) lines.push(line(family.name, labels, value))
  }
  return `${lines.join('\n')}\n`
}

/** Adds up the snapshots of several processes (a cluster's workers): series by series. */
export function mergeMetrics(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  const families = new Map<
    string,
    { help: string; type: 'counter' | 'gauge'; values: Map<string, [Labels, number]> }
  >()
  for (const snapshot of snapshots) {
    for (const family of snapshot) {
      let merged = families.get(family.name)
      if (merged === undefined) {
        merged = { help: family.help, type: family.type, values: new Map() }
        families.set(family.name, merged)
      }
      for (const [labels, value] of family.series) {
        const key = keyOf(labels)
        const current = merged.values.get(key)
        merged.values.set(key, [labels, (current?.[1] ?? 0) + value])
      }
    }
  }
  return [...families].map(([name, family]) => ({
    name,
    help: family.help,
    type: family.type,
    series: [...family.values.values()],
  }))
}

/** The media type of the Prometheus text format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/**
 * A server's counters and gauges, named `<prefix>_<name>` (the one naming scheme of every sluice
 * server: `chunked_server_…`, `hash_server_…`), rendered in the Prometheus text format.
 */
export class Metrics {
  readonly prefix: string
  readonly #families = new Map<string, Family>()

  constructor(prefix: string) {
    this.prefix = prefix
  }

  #family(name: string, help: string, type: 'counter' | 'gauge', collect?: () => number | Series) {
    const full = `${this.prefix}_${name}`
    const family: Family = {
      name: full,
      help,
      type,
      values: new Map(),
      ...(collect ? { collect } : {}),
    }
    this.#families.set(full, family)
    const add = (labels: Labels = {}, by = 1) => {
      const key = keyOf(labels)
      const current = family.values.get(key)
      family.values.set(key, [labels, (current?.[1] ?? 0) + by])
    }
    return add
  }

  /** A counter; `name` should end in `_total`. */
  counter(name: string, help: string): Counter {
    const add = this.#family(name, help, 'counter')
    return { inc: (labels, by) => add(labels, by) }
  }

  /**
   * A gauge counted here (`inc`/`dec`, shown as 0 until then), or read from `collect` when the
   * metrics are rendered.
   */
  gauge(name: string, help: string, collect?: () => number | Series): Gauge {
    const add = this.#family(name, help, 'gauge', collect)
    add({}, 0)
    return { inc: (labels, by = 1) => add(labels, by), dec: (labels, by = 1) => add(labels, -by) }
  }

  /** The current values, as plain data. */
  snapshot(): MetricsSnapshot {
    return [...this.#families.values()].map((family) => {
      const collected = family.collect?.()
      const series: Series =
        collected === undefined
          ? [...family.values.values()]
          : typeof collected === 'number'
            ? [[{}, collected]]
            : collected
      return { name: family.name, help: family.help, type: family.type, series }
    })
  }

  render(): string {
    return renderMetrics(this.snapshot())
  }
}
