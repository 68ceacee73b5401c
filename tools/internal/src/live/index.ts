export { RecentBytes } from './recent-bytes.js'
