import { once } from 'node:events';
import { Writable } from 'node:stream';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';

/**
 * Labels for the printer: an A4 sheet of 3 × 8 labels, each with the grouped code and a QR code of the hosted page
 * with the code filled in. It is a Writable that takes the plain list ("7KQ4-M2XD-9RPT\n" per code, as the TXT
 * download) and writes the PDF to `out` page by page: a page is laid out, handed on, and the next one waits while
 * `out` is full — so a batch of any size never sits in memory, and the generator upstream is held back as it is
 * for the CSV download.
 */

const A4 = { width: 595.28, height: 841.89 };
export const LABEL_COLUMNS = 3;
export const LABEL_ROWS = 8;
export const LABELS_PER_PAGE = LABEL_COLUMNS * LABEL_ROWS;
const PAD = 8;

export interface LabelOptions {
  /** The address a label's QR code opens, for a code (without separators). */
  urlOf(code: string): string;
  /** A line printed above each code (the promotion's name). */
  caption: string;
  /** Document title. */
  title: string;
}

export class LabelSheet extends Writable {
  readonly #out: Writable;
  readonly #doc: PDFKit.PDFDocument;
  readonly #options: LabelOptions;
  #rest = '';
  #onPage = LABELS_PER_PAGE;
  #labels = 0;
  #ended: Promise<unknown>;

  constructor(out: Writable, options: LabelOptions) {
    super({ highWaterMark: 64 * 1024 });
    this.#out = out;
    this.#options = options;
    this.#doc = new PDFDocument({
      size: 'A4',
      margin: 0,
      autoFirstPage: false,
      compress: true,
      info: { Title: options.title, Producer: 'Rapport', Creator: 'Rapport' },
    });
    this.#doc.on('data', (chunk: Buffer) => {
      if (!this.#out.destroyed) this.#out.write(chunk);
    });
    this.#ended = once(this.#doc, 'end');
  }

  /** How many labels were laid out. */
  get labels() {
    return this.#labels;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void) {
    const text = this.#rest + chunk.toString('latin1');
    const lines = text.split('\n');
    this.#rest = lines.pop() ?? '';
    this.#layout(lines).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void) {
    (async () => {
      if (this.#rest.trim()) await this.#layout([this.#rest]);
      this.#rest = '';
      // An empty batch still makes a valid document (one blank page).
      if (this.#labels === 0) this.#doc.addPage();
      this.#doc.end();
      await this.#ended;
    })().then(() => callback(), callback);
  }

  async #layout(lines: string[]) {
    for (const line of lines) {
      const grouped = line.trim();
      if (!grouped) continue;
      if (this.#out.destroyed) throw new Error('the output was closed before the labels were written');
      if (this.#onPage === LABELS_PER_PAGE) {
        if (this.#labels > 0) await this.#handOn();
        this.#doc.addPage();
        this.#onPage = 0;
      }
      this.#label(grouped, this.#onPage);
      this.#onPage++;
      this.#labels++;
    }
  }

  /** Lets the finished pages reach `out`, and waits while it is full. */
  async #handOn() {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.#out.writableNeedDrain && !this.#out.destroyed)
      await Promise.race([once(this.#out, 'drain'), once(this.#out, 'close')]);
  }

  #label(grouped: string, index: number) {
    const doc = this.#doc;
    const w = A4.width / LABEL_COLUMNS;
    const h = A4.height / LABEL_ROWS;
    const x = (index % LABEL_COLUMNS) * w;
    const y = Math.floor(index / LABEL_COLUMNS) * h;
    const side = h - 2 * PAD;
    drawQr(doc, this.#options.urlOf(grouped.replace(/-/g, '')), x + PAD, y + PAD, side);
    const tx = x + PAD + side + 6;
    const tw = w - (tx - x) - PAD;
    doc
      .fillColor('#555555')
      .font('Helvetica')
      .fontSize(7)
      .text(this.#options.caption, tx, y + PAD + 6, { width: tw, height: 28, ellipsis: true, lineBreak: true });
    // Courier is 0.6 em a character: 10 pt while the code fits a line, never under 8 pt; longer codes (up to 30
    // characters and their dashes) wrap at a dash.
    const size = Math.max(8, Math.min(10, tw / (grouped.length * 0.6)));
    doc
      .fillColor('black')
      .font('Courier-Bold')
      .fontSize(size)
      .text(linesOf(grouped, Math.floor(tw / (size * 0.6))).join('\n'), tx, y + h / 2 - 4, { width: tw });
  }
}

/** Whole groups of four per line, as many as fit in `width` characters: "7KQ4-M2XD-9RPT-" / "7KQ4-M2XD". */
export function linesOf(grouped: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  const groups = grouped.split('-');
  for (const [i, group] of groups.entries()) {
    const next = line ? `${line}-${group}` : group;
    // A line that goes on ends with its dash, which must fit too.
    const needed = next.length + (i < groups.length - 1 ? 1 : 0);
    if (line && needed > width) {
      lines.push(`${line}-`);
      line = group;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

/** A QR code as filled rectangles (one per run of dark modules in a row): sharp at any print size. */
function drawQr(doc: PDFKit.PDFDocument, text: string, x: number, y: number, side: number) {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const n = qr.modules.size;
  const quiet = 2;
  const cell = side / (n + 2 * quiet);
  const ox = x + quiet * cell;
  const oy = y + quiet * cell;
  for (let r = 0; r < n; r++) {
    let c = 0;
    while (c < n) {
      if (!qr.modules.get(r, c)) {
        c++;
        continue;
      }
      const start = c;
      while (c < n && qr.modules.get(r, c)) c++;
      // A hair wider than the cell, so that neighbouring rectangles leave no seam.
      doc.rect(ox + start * cell, oy + r * cell, (c - start) * cell + 0.05, cell + 0.05);
    }
  }
  doc.fillColor('black').fill();
}
