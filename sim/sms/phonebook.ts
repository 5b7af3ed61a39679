/**
 * The SIM's phonebooks (27.007 AT+CPBS: "SM" abbreviated dialling, "ON" own numbers, "FD"
 * fixed dialling, "EN" emergency): numbered entries of a number, its type and a name, kept
 * with the SIM's other records (`<data-dir>/sim/phonebook.json`).
 */
import type { Logger } from '../log.js';
import { SimFile, isRecord } from './sim-file.js';

export interface PhonebookEntry {
  readonly index: number;
  readonly number: string;
  readonly type: number;
  readonly text: string;
}

const FORMAT = 'modemsim-sim-phonebook/1';

/** EF_ADN: 20 digits, 14 alphabet characters (the common SIM record size). */
export const NUMBER_MAX = 20;
export const TEXT_MAX = 14;

export class Phonebooks {
  private readonly books = new Map<string, Map<number, PhonebookEntry>>();

  constructor(
    private readonly file: SimFile,
    names: readonly string[],
    readonly capacity: number,
    log: Logger,
  ) {
    for (const n of names) this.books.set(n, new Map());
    const v = file.load();
    if (!isRecord(v) || !isRecord(v['books'])) return;
    for (const [name, list] of Object.entries(v['books'])) {
      const book = this.books.get(name);
      if (book === undefined || !Array.isArray(list)) continue;
      for (const e of list) {
        if (!isRecord(e)) continue;
        const { index, number, type, text } = e;
        if (
          typeof index !== 'number' || !Number.isInteger(index) || index < 1 || index > capacity ||
          typeof number !== 'string' || number.length > NUMBER_MAX + 1 ||
          typeof type !== 'number' || !Number.isInteger(type) || type < 0 || type > 255 ||
          typeof text !== 'string' || text.length > TEXT_MAX
        ) {
          log.warn({ book: name, index }, 'SIM phonebook record unreadable; left out');
          continue;
        }
        book.set(index, { index, number, type, text });
      }
    }
  }

  has(book: string): boolean {
    return this.books.has(book);
  }

  used(book: string): number {
    return this.books.get(book)?.size ?? 0;
  }

  get(book: string, index: number): PhonebookEntry | undefined {
    return this.books.get(book)?.get(index);
  }

  /** Write an entry (index undefined: the first free one); undefined when the book is full. Throws on I/O errors. */
  write(book: string, index: number | undefined, e: Omit<PhonebookEntry, 'index'>): number | undefined {
    const b = this.books.get(book);
    if (b === undefined) return undefined;
    let at = index;
    if (at === undefined) {
      at = 1;
      while (b.has(at)) at++;
      if (at > this.capacity) return undefined;
    }
    const before = b.get(at);
    b.set(at, { index: at, ...e });
    const slot = at;
    this.commit(() => (before === undefined ? b.delete(slot) : b.set(slot, before)));
    return at;
  }

  delete(book: string, index: number): void {
    const b = this.books.get(book);
    const before = b?.get(index);
    if (b === undefined || before === undefined) return;
    b.delete(index);
    this.commit(() => b.set(index, before));
  }

  private commit(undo: () => void): void {
    const books: Record<string, PhonebookEntry[]> = {};
    for (const [name, b] of this.books) books[name] = [...b.values()].sort((x, y) => x.index - y.index);
    try {
      this.file.save({ format: FORMAT, books });
    } catch (err) {
      undo();
      throw err;
    }
  }
}
