// Sets of addresses and CIDRs (`--publish-allow`, `--trust-proxy`).
import { BlockList, isIP } from 'node:net';

export interface AddressRule {
  readonly address: string;
  readonly family: 'ipv4' | 'ipv6';
  readonly prefix: number;
}

/** Parses `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8`; null when it is not one of those. */
export function parseAddressRule(text: string): AddressRule | null {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  // A zone (`fe80::1%eth0`) would be ignored by the match: refuse it rather than widen the rule.
  if (address.includes('%')) return null;
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const bits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits)) return null;
    prefix = Number(bits);
    if (prefix > max) return null;
  }
  return { address, family: version === 4 ? 'ipv4' : 'ipv6', prefix };
}

/** Strips the `::ffff:` of an IPv4-mapped IPv6 address, so `::ffff:127.0.0.1` is loopback too. */
export function unmapAddress(address: string): string {
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4) return lower.slice(7);
  return address;
}

/** Addresses whose answer is remembered at once (the memory is dropped whole when full). */
const KNOWN_ADDRESSES = 1024;

/** A set of addresses and networks; throws a TypeError naming the first entry it cannot read. */
export function createAddressSet(entries: readonly string[]): (address: string | undefined) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const rule = parseAddressRule(entry.trim());
    if (rule === null) throw new TypeError(`not an address or CIDR: ${entry}`);
    list.addSubnet(rule.address, rule.prefix, rule.family);
  }
  // BlockList.check builds address objects on every call; publishers come from few addresses.
  const known = new Map<string, boolean>();
  return (address) => {
    if (address === undefined) return false;
    let allowed = known.get(address);
    if (allowed !== undefined) return allowed;
    const plain = unmapAddress(address);
    const version = isIP(plain);
    allowed = version !== 0 && list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
    if (known.size >= KNOWN_ADDRESSES) known.clear();
    known.set(address, allowed);
    return allowed;
  };
}
