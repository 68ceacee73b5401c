import { WebSocket } from 'ws'

/** Decides the close frame that answers a peer's close, once the session's work is done. */
export type CloseReply = (peerCode: number | undefined) => Promise<[code: number, reason: string]>

/**
 * ws's WebSocket whose answer to the peer's close frame can wait. ws answers a close frame at
 * once, echoing its code, so an appender that sends its last data and its close together would
 * get 1000 before that data is written (or although writing it failed). An APPEND session sets a
 * {@link CloseReply} that waits for the data to be written and synced and then picks 1000, or
 * 1011 when storing failed: a 1000 is sent only when it is true.
 */
export class SessionSocket extends WebSocket {
  #reply: CloseReply | undefined

  /** From now on, the answer to a close frame from the peer is decided by `reply`. */
  holdCloseReply(reply: CloseReply): void {
    this.#reply = reply
  }

  /** Closes now with this code, whatever is held. */
  closeNow(code: number, reason: string): void {
    this.#reply = undefined
    super.close(code, reason)
  }

  override close(code?: number, data?: string | Buffer): void {
    const reply = this.#reply
    if (reply === undefined || this.readyState !== WebSocket.OPEN) {
      super.close(code, data)
      return
    }
    this.#reply = undefined
    reply(code).then(
      ([answer, reason]) => super.close(answer, reason),
      () => super.close(1011, 'internal error'),
    )
  }
}
