// Random Cedar scenarios for the differential suite: a policy set (split over
// several files), an entity graph and a batch of requests, all derived from
// one seed so that any disagreement can be replayed. Expressions are built
// by a typed generator that now and then puts a value of the wrong type in
// (type errors), reads attributes that may be missing, and adds numbers near
// the 64-bit limits (overflow), so errors are exercised as much as values.

// mulberry32: small, fast, and the same on every platform.
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  };
  return r;
}

const USERS = ['alice', 'bob', 'carol', 'dave', 'eve'];
const GROUPS = ['admins', 'payments', 'eng', 'all'];
const TEAMS = ['red', 'blue']; // acme::Team, a namespaced type between users and groups
const SERVERS = ['billing', 'docs'];
const TOOLS = ['billing/refund', 'billing/charge', 'docs/search', 'docs/read'];
const ACTIONS = ['call_tool', 'list_tools', 'read_resource', 'get_prompt', 'chat'];
const ACTION_GROUPS = ['readonly', 'writes'];
const WORDS = ['a', 'ab', 'abc', 'payments', 'batch-pipeline', 'eng', 'x*y', '', 'héllo', 'q"t', 'two\nlines', 'back\\slash'];
const ATTRS = ['dept', 'level', 'roles', 'ip', 'limit', 'manager', 'profile', 'active', 'owner', 'missing'];
const CTX_KEYS = ['amount', 'name', 'flags', 'ip', 'price', 'nested', 'ok', 'who'];
const IPS = ['10.0.0.1', '10.0.0.0/8', '127.0.0.1', '192.168.1.7/24', '::1', 'ff02::1', '2001:db8::/32', '224.0.0.5', 'not-an-ip', '01.2.3.4'];
const DECIMALS = ['1.5', '0.0001', '-2.25', '499.99', '922337203685477.5807', '1.23456', '12', '-0.5'];
const BIG = ['9223372036854775807', '-9223372036854775808', '4611686018427387904', '3037000500'];

const INVALID = [
  'permit(principal, action, resource) when { 1 < 2 < 3 };',
  'permit(principal, action, resource) when { context.if };',
  'permit(principal, action, resource) when { !!!!!true };',
  'permit(principal, action, resource) when { foo(1) };',
  'permit(principal, action, resource) when { [1].contains() };',
  'permit(principal, action == User::"a", resource);',
  'permit(principal, action, resource) when { {a: 1, a: 2} == {} };',
  'permit(principal, action, resource) when { 9223372036854775808 == 0 };',
  'permit(principal, action, resource) when { "\\q" == "" };',
  'permit(principal, action, resource)',
];
const uid = (type, id) => ({ type, id });
const lit = (type, id) => `${type}::${JSON.stringify(id)}`;
const str = (s) => JSON.stringify(s);

function entities(r) {
  const out = [];
  const groupParents = (i) => GROUPS.slice(i + 1).filter(() => r.chance(0.4)).map((g) => uid('Group', g));
  GROUPS.forEach((g, i) => out.push({ uid: uid('Group', g), attrs: { name: g }, parents: groupParents(i) }));
  for (const t of TEAMS) out.push({ uid: uid('acme::Team', t), attrs: { name: t }, parents: GROUPS.filter(() => r.chance(0.4)).map((g) => uid('Group', g)) });
  for (const u of USERS) {
    if (u === 'eve' && r.chance(0.5)) continue; // sometimes a principal that does not exist
    const attrs = {};
    if (r.chance(0.85)) attrs.dept = r.pick(WORDS);
    if (r.chance(0.85)) attrs.level = r.chance(0.1) ? Number(r.pick(['9007199254740991', '-9007199254740991'])) : r.int(10);
    if (r.chance(0.8)) attrs.roles = WORDS.filter(() => r.chance(0.3));
    if (r.chance(0.7)) attrs.ip = { __extn: { fn: 'ip', arg: r.pick(IPS.slice(0, 8)) } };
    if (r.chance(0.7)) attrs.limit = { __extn: { fn: 'decimal', arg: r.pick(['1.5', '499.99', '-2.25']) } };
    if (r.chance(0.6)) attrs.manager = { __entity: uid('User', r.pick(USERS)) };
    if (r.chance(0.6)) attrs.profile = { age: r.int(80), team: r.pick(WORDS) };
    if (r.chance(0.7)) attrs.active = r.chance(0.5);
    const tags = r.chance(0.5) ? { env: r.pick(WORDS) } : undefined;
    const parents = [...GROUPS.filter(() => r.chance(0.3)).map((g) => uid('Group', g)),
      ...TEAMS.filter(() => r.chance(0.3)).map((t) => uid('acme::Team', t))];
    out.push({ uid: uid('User', u), attrs, parents, ...(tags ? { tags } : {}) });
  }
  for (const s of SERVERS) out.push({ uid: uid('Server', s), attrs: { owner: r.pick(WORDS) }, parents: [] });
  for (const t of TOOLS) {
    const attrs = r.chance(0.7) ? { owner: r.pick(WORDS), level: r.int(10) } : {};
    out.push({ uid: uid('Tool', t), attrs, parents: [uid('Server', t.split('/')[0])] });
  }
  for (const g of ACTION_GROUPS) out.push({ uid: uid('Action', g), attrs: {}, parents: [] });
  for (const a of ACTIONS) {
    const parents = ACTION_GROUPS.filter(() => r.chance(0.5)).map((g) => uid('Action', g));
    out.push({ uid: uid('Action', a), attrs: {}, parents });
  }
  return out;
}

function context(r) {
  const c = {};
  if (r.chance(0.85)) c.amount = r.chance(0.15) ? Number.MAX_SAFE_INTEGER : r.int(1000) - 100;
  if (r.chance(0.8)) c.name = r.pick(WORDS);
  if (r.chance(0.7)) c.flags = WORDS.filter(() => r.chance(0.3));
  if (r.chance(0.6)) c.ip = { __extn: { fn: 'ip', arg: r.pick(IPS.slice(0, 8)) } };
  if (r.chance(0.6)) c.price = { __extn: { fn: 'decimal', arg: r.pick(['1.5', '499.99', '-2.25', '0.0001']) } };
  if (r.chance(0.6)) c.nested = { a: r.int(5), b: r.pick(WORDS), ...(r.chance(0.5) ? { c: { d: r.chance(0.5) } } : {}) };
  if (r.chance(0.6)) c.ok = r.chance(0.5);
  if (r.chance(0.4)) c.who = { __entity: uid('User', r.pick(USERS)) };
  return c;
}

function request(r) {
  const tool = r.pick(TOOLS);
  return {
    principal: r.chance(0.9) ? uid('User', r.pick(USERS)) : uid('Group', r.pick(GROUPS)),
    action: uid('Action', r.pick(ACTIONS)),
    resource: r.chance(0.9) ? uid('Tool', tool) : uid('Server', r.pick(SERVERS)),
    context: context(r),
  };
}

// Typed expression generator. `t` is the wanted type; with a small chance
// another type is produced instead, which makes a type error downstream.
class Exprs {
  constructor(r) {
    this.r = r;
  }
  any(d) {
    return this.gen(this.r.pick(['bool', 'long', 'string', 'entity', 'set', 'record', 'ip', 'decimal']), d);
  }
  gen(t, d) {
    const r = this.r;
    if (r.chance(0.04)) t = r.pick(['bool', 'long', 'string', 'entity', 'set', 'record']);
    if (d <= 0) return this.leaf(t);
    return this[t](d - 1);
  }
  leaf(t) {
    const r = this.r;
    switch (t) {
      case 'bool': return r.pick(['true', 'false', 'context.ok', 'principal.active']);
      case 'long': return r.pick([String(r.int(20)), `-${r.int(5)}`, 'context.amount', 'principal.level', 'resource.level', r.pick(BIG), 'context.nested.a']);
      case 'string': return r.pick([str(r.pick(WORDS)), 'context.name', 'principal.dept', 'resource.owner', 'context.nested.b', 'context["name"]', 'principal["dept"]', '"\\u{e9}\\t\\x41"']);
      case 'entity': return r.pick(['principal', 'resource', 'action', lit('User', r.pick(USERS)), lit('Group', r.pick(GROUPS)), 'principal.manager', 'context.who', lit('Server', r.pick(SERVERS)), lit('acme::Team', r.pick(TEAMS))]);
      case 'set': return r.pick(['context.flags', 'principal.roles', '[]', `[${str(r.pick(WORDS))}, ${str(r.pick(WORDS))}]`, `[${lit('Group', r.pick(GROUPS))}, ${lit('Group', r.pick(GROUPS))}]`, '[1, 2, 3]']);
      case 'record': return r.pick(['context', 'context.nested', 'principal.profile', '{a: 1, b: "ab"}', '{}']);
      case 'ip': return r.pick([`ip(${str(r.pick(IPS))})`, 'context.ip', 'principal.ip']);
      case 'decimal': return r.pick([`decimal(${str(r.pick(DECIMALS))})`, 'context.price', 'principal.limit']);
    }
    throw new Error(t);
  }
  bool(d) {
    const r = this.r;
    const g = (t) => this.gen(t, d);
    switch (r.int(23)) {
      case 0: return this.leaf('bool');
      case 1: return `!${this.paren(g('bool'))}`;
      case 2: return `(${g('bool')} && ${g('bool')})`;
      case 3: return `(${g('bool')} || ${g('bool')})`;
      case 4: return `(if ${g('bool')} then ${g('bool')} else ${g('bool')})`;
      case 5: return `${this.paren(g('long'))} ${r.pick(['<', '<=', '>', '>='])} ${this.paren(g('long'))}`;
      case 6: { const t = r.pick(['long', 'string', 'entity', 'set', 'record', 'ip', 'decimal', 'bool']);
        return `${this.paren(g(t))} ${r.pick(['==', '!='])} ${this.paren(r.chance(0.8) ? g(t) : this.any(d))}`; }
      case 7: return `${this.paren(g('entity'))} in ${this.paren(r.chance(0.7) ? g('entity') : g('set'))}`;
      case 8: return `${this.paren(g('entity'))} is ${r.pick(['User', 'Group', 'Tool', 'Server', 'acme::Team'])}${r.chance(0.4) ? ` in ${this.paren(g('entity'))}` : ''}`;
      case 9: return `${this.paren(r.chance(0.5) ? g('record') : g('entity'))} has ${r.pick([...ATTRS, ...CTX_KEYS, '"a"', 'nested.c.d', 'a', '"a b"', '"dept"'])}`;
      case 10: return `${this.paren(g('string'))} like ${str(r.pick(['*', 'a*', '*b*', 'pay*s', 'x\\*y', '', '*-*', 'h*o']))}`;
      case 11: return `${this.paren(g('set'))}.contains(${this.any(d)})`;
      case 12: return `${this.paren(g('set'))}.${r.pick(['containsAll', 'containsAny'])}(${g('set')})`;
      case 13: return `${this.paren(g('set'))}.isEmpty()`;
      case 14: return `${this.paren(g('ip'))}.${r.pick(['isIpv4', 'isIpv6', 'isLoopback', 'isMulticast'])}()`;
      case 15: return `${this.paren(g('ip'))}.isInRange(${g('ip')})`;
      case 16: return `${this.paren(g('decimal'))}.${r.pick(['lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual'])}(${g('decimal')})`;
      case 17: return `${this.paren(g('entity'))}.hasTag(${g('string')})`;
      case 18: return `${this.paren(g('entity'))}.getTag(${g('string')}) == ${g('string')}`;
      case 19: return `principal in ${lit('Group', r.pick(GROUPS))}`;
      case 20: return `action in [${lit('Action', r.pick(ACTIONS))}, ${lit('Action', r.pick(ACTION_GROUPS))}]`;
      case 21: return r.pick([`ip(${str(r.pick(IPS))}).isIpv4(${this.any(0)})`, `decimal(${str(r.pick(DECIMALS))}, "1.0") == ${this.any(0)}`,
        `ip().isLoopback()`, `!!!!${this.paren(g('bool'))}`, `----${this.paren(g('long'))} == ${this.leaf('long')}`]);
      default: return `${this.paren(g('record'))}.${r.pick(['ok', 'a', 'c', 'nested', 'active'])} == ${this.any(0)}`;
    }
  }
  long(d) {
    const r = this.r;
    const g = () => this.gen('long', d);
    switch (r.int(6)) {
      case 0: return this.leaf('long');
      case 1: return `(${g()} + ${g()})`;
      case 2: return `(${g()} - ${g()})`;
      case 3: return `(${g()} * ${g()})`;
      case 4: return `-${this.paren(g())}`;
      default: return `(if ${this.gen('bool', d)} then ${g()} else ${g()})`;
    }
  }
  string(d) {
    return this.r.chance(0.8) ? this.leaf('string') : `(if ${this.gen('bool', d)} then ${this.leaf('string')} else ${this.leaf('string')})`;
  }
  entity(d) {
    return this.leaf('entity');
  }
  set(d) {
    const r = this.r;
    if (r.chance(0.6)) return this.leaf('set');
    const t = r.pick(['long', 'string', 'entity', 'bool']);
    const n = r.int(4);
    return `[${Array.from({ length: n }, () => this.gen(t, d)).join(', ')}]`;
  }
  record(d) {
    const r = this.r;
    if (r.chance(0.6)) return this.leaf('record');
    return `{${['a', 'ok', 'nested'].filter(() => r.chance(0.6)).map((k) => `${k}: ${this.any(d)}`).join(', ')}}`;
  }
  ip(d) {
    return this.leaf('ip');
  }
  decimal(d) {
    return this.leaf('decimal');
  }
  paren(s) {
    return /^[\w."[\]:-]+$/.test(s) && !s.startsWith('-') ? s : `(${s})`;
  }
}

function scope(r, v) {
  const types = v === 'principal' ? ['User', 'Group', 'acme::Team'] : ['Tool', 'Server'];
  const target = () => (v === 'principal' ? r.chance(0.4) ? lit('User', r.pick(USERS)) : r.chance(0.3) ? lit('acme::Team', r.pick(TEAMS)) : lit('Group', r.pick(GROUPS)) : r.chance(0.5) ? lit('Tool', r.pick(TOOLS)) : lit('Server', r.pick(SERVERS)));
  switch (r.int(7)) {
    case 0: return `${v} == ${target()}`;
    case 1: return `${v} in ${target()}`;
    case 2: return `${v} is ${r.pick(types)}`;
    case 3: return `${v} is ${r.pick(types)} in ${target()}`;
    default: return v;
  }
}

function actionScope(r) {
  const a = () => lit('Action', r.chance(0.7) ? r.pick(ACTIONS) : r.pick(ACTION_GROUPS));
  switch (r.int(6)) {
    case 0: return `action == ${a()}`;
    case 1: return `action in ${a()}`;
    case 2: return `action in [${Array.from({ length: 1 + r.int(3) }, a).join(', ')}]`;
    default: return 'action';
  }
}

function policy(r, exprs, n) {
  const ann = [];
  if (r.chance(0.5)) ann.push(`@id("p${n}")`);
  if (r.chance(0.2)) ann.push(`@approval("human")`);
  const effect = r.chance(0.65) ? 'permit' : 'forbid';
  const conds = Array.from({ length: r.int(3) }, () => `${r.chance(0.7) ? 'when' : 'unless'} { ${exprs.gen('bool', 1 + r.int(3))} }`);
  const text = `${ann.join(' ')}${ann.length ? '\n' : ''}${effect}(\n  ${scope(r, 'principal')},\n  ${actionScope(r)},\n  ${scope(r, 'resource')}\n)${conds.length ? '\n' : ''}${conds.join('\n')};`;
  return { explicitId: ann.some((a) => a.startsWith('@id')) ? `p${n}` : null, text };
}

// One scenario: { files: [[name, text]], policies: {id: text}, entities, requests }.
export function scenario(seed, { requests = 30 } = {}) {
  const r = rng(seed);
  const exprs = new Exprs(r);
  const count = 1 + r.int(8);
  const ps = Array.from({ length: count }, (_, i) => policy(r, exprs, i));
  // Now and then a policy Cedar rejects, which both sides must reject.
  if (r.chance(0.03)) ps[r.int(count)].text = r.pick(INVALID);
  const fileCount = 1 + r.int(Math.min(3, count));
  const files = Array.from({ length: fileCount }, (_, i) => [`${String(i).padStart(2, '0')}.cedar`, []]);
  const policies = {};
  ps.forEach((p, i) => {
    // Files are filled in order, so the running index is the policy's position.
    const f = Math.min(fileCount - 1, Math.floor((i * fileCount) / count));
    files[f][1].push(p.text);
    policies[p.explicitId ?? `policy${i}`] = p.text;
  });
  return {
    seed,
    files: files.map(([name, texts]) => [name, texts.join('\n\n') + '\n']),
    policies,
    entities: entities(r),
    requests: Array.from({ length: requests }, () => request(r)),
  };
}

const MUTATION_TOKENS = ['(', ')', ',', ';', '.', '::', '==', '!=', '<', ' in ', ' is ', ' has ', ' like ', ' if ', ' then ',
  ' else ', '-', '!', '"x"', '1', '[', ']', '{', '}', '@id("q")', ' when ', ' unless ', '&&', '||', '*', ':', 'principal',
  'context', 'User::"a"', ' true ', '?principal', '\\', '"', '//', '9223372036854775808', 'ip', '.isIpv4()', ' as '];

// A policy text with one random local edit (delete, insert or duplicate a
// piece), for comparing which texts each parser accepts.
export function mutatedPolicyText(seed) {
  const r = rng(seed);
  const s = scenario(seed, { requests: 0 });
  let text = s.files.map(([, t]) => t).join('\n');
  const edits = 1 + r.int(2);
  for (let k = 0; k < edits; ++k) {
    const at = r.int(text.length + 1);
    switch (r.int(3)) {
      case 0: text = text.slice(0, at) + text.slice(at + 1 + r.int(4)); break;
      case 1: text = text.slice(0, at) + r.pick(MUTATION_TOKENS) + text.slice(at); break;
      default: { const from = r.int(text.length); text = text.slice(0, at) + text.slice(from, from + 1 + r.int(6)) + text.slice(at); }
    }
  }
  return text;
}
