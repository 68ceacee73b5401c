import type { UploadProgress } from './upload.js'

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--'
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const pad = (v: number) => String(v).padStart(2, '0')
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`
}

/**
 * A one-line progress bar with rate and ETA for a terminal, redrawn at most 10 times a second.
 * `render` is pure so that it can be tested; `onProgress` writes to the stream.
 */
export class ProgressBar {
  readonly #out: NodeJS.WriteStream
  readonly #started = Date.now()
  #lastDraw = 0
  #last: UploadProgress | undefined

  constructor(out: NodeJS.WriteStream) {
    this.#out = out
  }

  static render(progress: UploadProgress, elapsedMs: number, width: number): string {
    const rate = progress.loaded / Math.max(elapsedMs / 1000, 0.001)
    const { total } = progress
    const stats =
      total === undefined
        ? `${bytes(progress.loaded)}  ${bytes(rate)}/s`
        : `${bytes(progress.loaded)} / ${bytes(total)}  ${bytes(rate)}/s  ETA ${duration((total - progress.loaded) / rate)}`
    if (total === undefined || total === 0) return stats
    const ratio = Math.min(1, progress.loaded / total)
    const barWidth = Math.max(10, Math.min(40, width - stats.length - 8))
    const filled = Math.round(ratio * barWidth)
    return `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}%  ${stats}`
  }

  readonly onProgress = (progress: UploadProgress): void => {
    this.#last = progress
    const now = Date.now()
    if (now - this.#lastDraw < 100) return
    this.#lastDraw = now
    this.#draw()
  }

  #draw(): void {
    if (!this.#last) return
    const line = ProgressBar.render(this.#last, Date.now() - this.#started, this.#out.columns ?? 80)
    this.#out.write(`\r${line}\x1b[K`)
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    this.#draw()
    if (this.#last) this.#out.write('\n')
  }
}
