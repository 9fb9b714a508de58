/** RawJson is a response body that is already JSON text (built by SQLite), sent without JSON.stringify. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** jsonText renders a response value: RawJson as it is, anything else through JSON.stringify. */
export function jsonText(value: unknown): string {
  return value instanceof RawJson ? value.text : JSON.stringify(value);
}
