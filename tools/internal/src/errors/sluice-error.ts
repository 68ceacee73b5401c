/** Where each class keeps its brand (this copy's own key: the brands themselves are global). */
const BRAND: unique symbol = Symbol('sluice.error.brand')

/** A class of errors, whatever its constructor takes. */
type ErrorClass<T = SluiceError> = abstract new (...args: never[]) => T

/**
 * Gives `errorClass` the brand `Symbol.for('sluice.error.<name>')`, which its instances (and
 * those of its subclasses) carry: `instanceof errorClass` then holds for an error made by any copy
 * of the class, such as one bundled into another package or loaded twice. Called in the class's
 * static block. `name` is the class's stable `code` (`CHUNKED_ERR_STORAGE`), unique across the
 * packages as undici's are; for a package's base, which has no code of its own, its class name.
 */
export function brandError(errorClass: ErrorClass, name: string): void {
  const brand = Symbol.for(`sluice.error.${name}`)
  Object.defineProperty(errorClass, BRAND, { value: brand })
  Object.defineProperty(errorClass.prototype, brand, { value: true })
}

/**
 * The base of every refusal of a sluice server: a stable `code` (the package's prefix, such as
 * `CHUNKED_ERR_`) and the HTTP status it is answered with. `instanceof` checks the class's brand,
 * a `Symbol.for('sluice.error.<code>')` property of its instances, rather than the prototype
 * chain, as undici's errors do, so that it holds across bundled copies of a package; a subclass
 * without a brand of its own falls back to the prototype chain.
 */
export class SluiceError extends Error {
  /** Stable machine-readable code. */
  readonly code: string
  /** The HTTP status the server answers with when this error ends a request. */
  readonly status: number

  constructor(message: string, code: string, status: number, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.status = status
  }

  /** Whether `value` is an error of this class or a subclass, made by any copy of the class. */
  static override [Symbol.hasInstance]<T>(this: ErrorClass<T>, value: unknown): value is T {
    // biome-ignore lint/complexity/noThisInStatic: the class on the right of instanceof, a subclass.
    return isInstance(this, value)
  }
}

/**
 * Whether `value` carries the brand of `errorClass`, or for a class without a brand of its own,
 * whether the class's prototype is in `value`'s prototype chain.
 */
function isInstance(errorClass: object, value: unknown): boolean {
  const brand = Object.hasOwn(errorClass, BRAND)
    ? (errorClass as { [BRAND]?: symbol })[BRAND]
    : undefined
  if (brand === undefined) return Function.prototype[Symbol.hasInstance].call(errorClass, value)
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[brand] === true
  )
}
