/**
 * Just enough Markdown reading to check a document's links: what GitHub and npm would render
 * as a link (code blocks and code spans are text, not links), and the anchors its headings get.
 */

export interface Link {
  /** The target as written: `docs/protocol.md#errors`, `#gaps`, `http://127.0.0.1:8888/`. */
  readonly target: string;
  /** 1-based line of the document where the link starts. */
  readonly line: number;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** The document with every fenced code block blanked (line numbers kept). */
function withoutFences(text: string): string {
  const lines = text.split('\n');
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const open = FENCE.exec(line);
    if (fence === null) {
      if (open !== null) {
        fence = (open[1] as string)[0] as string;
        lines[i] = '';
      }
    } else {
      if (open !== null && (open[1] as string)[0] === fence) fence = null;
      lines[i] = '';
    }
  }
  return lines.join('\n');
}

/** Code spans blanked (newlines kept), paragraph by paragraph, as CommonMark pairs backticks. */
function withoutCodeSpans(text: string): string {
  return text
    .split(/(\n[ \t]*\n)/)
    .map((block) => block.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (span) => span.replace(/[^\n]/g, ' ')))
    .join('');
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

/** Inline links and images, reference definitions, autolinks and HTML `href`/`src`, outside code. */
export function markdownLinks(text: string): Link[] {
  const prose = withoutCodeSpans(withoutFences(text));
  const patterns = [
    /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+["'(][^)]*)?\)/g,
    /^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/gm,
    /<([a-z][a-z0-9+.-]*:[^\s<>]+)>/gi,
    /\b(?:href|src)\s*=\s*["']([^"']+)["']/gi,
  ];
  const links: Link[] = [];
  for (const pattern of patterns) {
    for (const match of prose.matchAll(pattern)) links.push({ target: match[1] as string, line: lineAt(prose, match.index ?? 0) });
  }
  return links.sort((a, b) => a.line - b.line);
}

/** Every `http://` or `https://` URL written anywhere in a text, code included. */
export function urlsIn(text: string): string[] {
  return [...text.matchAll(/https?:\/\/[^\s)<>"'`\]]+/g)].map((match) => match[0]);
}

/**
 * The anchors GitHub gives a document's headings: the heading's text (code and link marks
 * dropped), lower-cased, without punctuation, spaces made hyphens; a repeated one gets `-1`, `-2`.
 */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(text).split('\n')) {
    const heading = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (heading === null) continue;
    const base = githubSlug(heading[1] as string);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

export function githubSlug(heading: string): string {
  const plain = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '')
    .toLowerCase();
  return plain.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}
