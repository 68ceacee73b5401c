/**
 * Scrapes a Prometheus text endpoint: each series (`name{label="v",…}`, as the server writes it)
 * with its value.
 */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text()
  const series = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    series.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return series
}
