/**
 * The crawler as a cold Observable.
 *
 * @module
 */
import { Observable } from 'rxjs'
import { Crawler, type CrawlInit } from './crawler.js'
import type { CrawlEvent } from './events.js'

/**
 * Crawls a network (see {@link Crawler}) as a cold Observable: each subscription runs one crawl and emits its
 * {@link CrawlEvent}s, `done` (with the report) last, then completes. Unsubscribing stops the crawl and
 * closes its connections.
 *
 * @example
 * ```ts
 * const report = await lastValueFrom(crawl({ seeds, allowPrivate: true }).pipe(
 *   filter((e) => e.type === 'done'), map((e) => e.report)))
 * ```
 */
export function crawl (init: CrawlInit): Observable<CrawlEvent> {
  return new Observable<CrawlEvent>((subscriber) => {
    const crawler = new Crawler(init)
    const sub = crawler.events$.subscribe(subscriber)
    crawler.run().catch((err: unknown) => { subscriber.error(err) })
    return () => {
      sub.unsubscribe()
      crawler.stop()
    }
  })
}
