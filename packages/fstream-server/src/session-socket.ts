import { CLOSE } from '@sluice/internal/fstream'
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
  #sentCode: number | undefined

  /**
   * The code of the close frame this side sent (1005 when it had none), or 1006 when the session
   * ended without one (dropped, terminated): what the server told the peer, for its metrics.
   */
  get sentCloseCode(): number {
    return this.#sentCode ?? CLOSE.abnormal
  }

  #closeWith(code: number | undefined, reason: string | Buffer | undefined): void {
    if (this.readyState === WebSocket.OPEN) this.#sentCode = code ?? CLOSE.noStatus
    super.close(code, reason)
  }

  /** From now on, the answer to a close frame from the peer is decided by `reply`. */
  holdCloseReply(reply: CloseReply): void {
    this.#reply = reply
  }

  /** Closes now with this code, whatever is held. */
  closeNow(code: number, reason: string): void {
    this.#reply = undefined
    this.#closeWith(code, reason)
  }

  override close(code?: number, data?: string | Buffer): void {
    const reply = this.#reply
    if (reply === undefined || this.readyState !== WebSocket.OPEN) {
      this.#closeWith(code, data)
      return
    }
    this.#reply = undefined
    reply(code).then(
      ([answer, reason]) => this.#closeWith(answer, reason),
      () => this.#closeWith(CLOSE.internalError, 'internal error'),
    )
  }
}
