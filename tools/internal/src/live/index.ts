export { Arrivals, type WaitOptions } from './arrivals.js'
export { LiveBytes, type LiveBytesOptions, type LiveState } from './live-bytes.js'
export { type ReadLiveOptions, readLive, type StoredBytes } from './read-live.js'
export { RecentBytes } from './recent-bytes.js'
