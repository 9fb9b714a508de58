import type { Logger } from '../logging/logger.js';
import { appFileWriter } from '../logging/logger.js';
import type { ForwardedLog } from './protocol.js';

/** A RecordBatch gathers a worker's log records for the primary, which writes the files for everyone. */
export interface RecordBatch {
  push(record: ForwardedLog): void;
  flush(): void;
}

/** batchRecords sends log records to the primary in batches: one IPC message per few milliseconds, not per line. */
export function batchRecords(send: (records: ForwardedLog[]) => void, delayMs = 10, maxRecords = 200): RecordBatch {
  let records: ForwardedLog[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (records.length === 0) return;
    send(records);
    records = [];
  };
  return {
    push(record) {
      records.push(record);
      if (records.length >= maxRecords) flush();
      else timer ??= setTimeout(flush, delayMs);
    },
    flush,
  };
}

/** forwardedLogWriter is the primary's side: records go through the file logger, ready lines straight into the files. */
export function forwardedLogWriter(fileSink: Logger): (records: ForwardedLog[]) => void {
  const writeLine = appFileWriter(fileSink);
  return (records) => {
    for (const record of records) {
      if (typeof record !== 'string') fileSink.log(record);
      else writeLine?.(record);
    }
  };
}
