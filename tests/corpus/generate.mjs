// Deterministic generator for the guardrail corpora (tests/corpus/secrets and
// tests/corpus/pii): fake but well-formed values built from the publicly
// documented shapes (prefixes, lengths, alphabets, checksums), and hard
// negatives that look similar but are not secrets or PII. Same seed, same
// files:   node tests/corpus/generate.mjs
// Each line of positives.jsonl: {"rule", "text", "value"} where value is the
// substring the detector must report; negatives.jsonl: {"kind", "text"}.
import { writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
let seed = 0x5eed1234;
function rnd() { // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = (a) => a[int(0, a.length - 1)];
const UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", LO = "abcdefghijklmnopqrstuvwxyz", DIG = "0123456789";
const B62 = DIG + UP + LO, HEX = "0123456789abcdef", B64 = UP + LO + DIG + "+/", B64URL = UP + LO + DIG + "-_";
const str = (alpha, n) => Array.from({ length: n }, () => pick(alpha)).join("");
const bytes = (n) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(s) {
  let c = 0xffffffff;
  for (const b of Buffer.from(s)) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function base62(v, width) {
  let out = "";
  do { out = B62[v % 62] + out; v = Math.floor(v / 62); } while (v);
  return out.padStart(width, "0");
}
const checksummed = (prefix) => { const r = str(B62, 30); return prefix + r + base62(crc32(r), 6); };
const b64url = (buf) => buf.toString("base64url");

const WORDS = ("the deploy pipeline reads config from the vault and then calls the tool with a short summary of " +
  "what changed last week, including release notes, owners, dashboards, latency budgets, retries and " +
  "on-call handover for the payments service migration project").split(" ");
const sentence = (n = int(4, 12)) => Array.from({ length: n }, () => pick(WORDS)).join(" ");
const around = (v) => pick([(x) => `${sentence()} ${x} ${sentence()}`, (x) => `${x}`, (x) => `${sentence()}: "${x}".`,
  (x) => `${sentence()}\n${x}\n`])(v);

// ---- secrets ---------------------------------------------------------------
const pemBody = () => Array.from({ length: int(3, 8) }, () => str(B64, 64)).join("\n");
const password = () => str(UP + LO + DIG, int(6, 10)) + pick(["!", "#", "_", "-", "%", "9"]) + str(LO + DIG, int(4, 8));
const secretGens = {
  aws_access_key: () => { const v = pick(["AKIA", "ASIA"]) + str("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
    return [pick([`aws_access_key_id = ${v}`, `export AWS_ACCESS_KEY_ID=${v}`, around(v)]), v]; },
  aws_secret_key: () => { const v = str(UP + LO + DIG + "/+", 40);
    return [pick([`aws_secret_access_key = ${v}`, `AWS_SECRET_ACCESS_KEY="${v}"`, `"SecretAccessKey": "${v}"`]), v]; },
  gcp_service_account_key: () => { const v = `-----BEGIN PRIVATE KEY-----\\n${str(B64, 64)}\\n${str(B64, 64)}\\n-----END PRIVATE KEY-----\\n`;
    return [`{"type": "service_account", "project_id": "demo-${int(100, 999)}", "private_key_id": "${str(HEX, 40)}", "private_key": "${v}", "client_email": "svc@demo.iam.gserviceaccount.com"}`, v]; },
  gcp_api_key: () => { const v = "AIza" + str(B62 + "-_", 35); return [pick([`GOOGLE_API_KEY=${v}`, around(v), `https://maps.googleapis.com/maps/api/js?key=${v}&callback=init`]), v]; },
  azure_storage_key: () => { const v = Buffer.from(bytes(64)).toString("base64");
    return [`DefaultEndpointsProtocol=https;AccountName=acct${int(1, 99)};AccountKey=${v};EndpointSuffix=core.windows.net`, v]; },
  azure_shared_access_key: () => { const v = bytes(32).toString("base64");
    return [`Endpoint=sb://ns${int(1, 99)}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${v}`, v]; },
  azure_sas_token: () => { const v = encodeURIComponent(bytes(32).toString("base64"));
    return [`https://acct.blob.core.windows.net/c/report.pdf?sv=2022-11-02&ss=b&srt=o&sp=r&se=2026-01-01T00:00:00Z&spr=https&sig=${v}`, v]; },
  github_token: () => { const v = checksummed(pick(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"])); return [pick([`GITHUB_TOKEN=${v}`, around(v), `Authorization: token ${v}`]), v]; },
  github_fine_grained_pat: () => { const v = `github_pat_${str(B62, 22)}_${str(B62, 59)}`; return [around(v), v]; },
  gitlab_pat: () => { const v = "glpat-" + str(B62 + "-_", 20); return [pick([`GITLAB_TOKEN=${v}`, around(v)]), v]; },
  slack_token: () => { const v = pick([`xoxb-${str(DIG, int(10, 13))}-${str(DIG, int(10, 13))}-${str(B62, 24)}`,
    `xoxp-${str(DIG, 11)}-${str(DIG, 11)}-${str(DIG, 13)}-${str(HEX, 32)}`]); return [around(v), v]; },
  slack_webhook: () => { const v = `T${str(UP + DIG, 10)}/B${str(UP + DIG, 10)}/${str(B62, 24)}`;
    return [`curl -X POST https://hooks.slack.com/services/${v} -d '{"text":"hi"}'`, v]; },
  stripe_key: () => { const v = pick(["sk_live_", "rk_live_"]) + str(B62, pick([24, 34, 99])); return [pick([`STRIPE_KEY=${v}`, around(v)]), v]; },
  anthropic_key: () => { const v = "sk-ant-api03-" + str(B62 + "-_", 93) + "AA"; return [pick([`ANTHROPIC_API_KEY=${v}`, around(v)]), v]; },
  openai_key: () => { const v = pick(["sk-proj-" + str(B62 + "-_", pick([64, 120, 156])), "sk-" + str(B62, 20) + "T3BlbkFJ" + str(B62, 20)]);
    return [pick([`OPENAI_API_KEY=${v}`, around(v), `Authorization: Bearer ${v}`]), v]; },
  twilio_api_key: () => { const v = "SK" + str(HEX, 32); return [around(v), v]; },
  twilio_account_sid: () => { const v = "AC" + str(HEX, 32); return [`TWILIO_ACCOUNT_SID=${v}`, v]; },
  sendgrid_key: () => { const v = `SG.${str(B64URL, 22)}.${str(B64URL, 43)}`; return [pick([`SENDGRID_API_KEY=${v}`, around(v)]), v]; },
  npm_token: () => { const v = checksummed("npm_"); return [pick([`//registry.npmjs.org/:_authToken=${v}`, around(v)]), v]; },
  pypi_token: () => { const v = "pypi-AgEIcHlwaS5vcmc" + str(B64URL, int(60, 150)); return [`password = ${v}`, v]; },
  docker_pat: () => { const v = "dckr_pat_" + str(B62 + "-_", 27); return [pick([`docker login -u bot -p ${v}`, around(v)]), v]; },
  jwt: () => { const h = b64url(Buffer.from(JSON.stringify({ alg: pick(["HS256", "RS256", "ES256"]), typ: "JWT" })));
    const p = b64url(Buffer.from(JSON.stringify({ sub: String(int(1, 1e6)), iat: int(1.6e9, 1.8e9) })));
    const v = `${h}.${p}.${b64url(bytes(32))}`; return [pick([`Authorization: Bearer ${v}`, around(v)]), v]; },
  private_key: () => { const kind = pick(["RSA ", "EC ", "OPENSSH ", "", "DSA "]);
    const v = `-----BEGIN ${kind}PRIVATE KEY-----\n${pemBody()}\n-----END ${kind}PRIVATE KEY-----`; return [`${sentence()}\n${v}\n`, v]; },
  database_url_password: () => { const p = password(); const scheme = pick(["postgres", "postgresql", "mysql", "mongodb+srv", "redis", "amqp"]);
    const user = scheme === "redis" ? "" : pick(["app", "admin", "svc_user"]);
    return [`DATABASE_URL=${scheme}://${user}:${p}@db${int(1, 9)}.internal:${int(1000, 9999)}/prod`, p]; },
  generic_secret: () => { const v = str(B62, int(20, 40)) ;
    return [pick([`password = "${v}"`, `api_key: ${v}`, `client_secret=${v}`, `"auth_token": "${v}"`, `SECRET_KEY = '${v}'`]), v]; },
};

const secretNegatives = {
  uuid: () => `request ${[8, 4, 4, 4, 12].map((n) => str(HEX, n)).join("-")} finished`,
  git_hash: () => `commit ${str(HEX, 40)}\nAuthor: dev`,
  sha256: () => `sha256:${str(HEX, 64)}`,
  base64_image: () => `<img src="data:image/png;base64,iVBORw0KGgo${str(B64, int(200, 600))}">`,
  doc_examples: () => pick(["aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "STRIPE_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
    "OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "password: changeme", "token: <your-token-here>",
    "DATABASE_URL=postgres://user:${DB_PASSWORD}@localhost:5432/app", "api_key = YOUR_API_KEY_HERE", "password = ********"]),
  bad_checksum: () => { const t = checksummed(pick(["ghp_", "npm_"])); return `token ${t.slice(0, -1)}${t.at(-1) === "A" ? "B" : "A"}`; },
  words: () => sentence(int(8, 30)),
  prose_prefixes: () => pick(["a risk-free ask-based desk-sharing plan", "the task-list and disk-usage panels", "npm_config_cache is set", "SG.1 section", "AIza is not a word"]),
  low_entropy_values: () => pick([`password = correcthorsebatterystaple`, `token: ${LO.slice(0, int(10, 20))}`, `secret = 12345678901234`, `api_key=${"ab".repeat(10)}`]),
  db_url_without_password: () => `postgres://app@db.internal:5432/prod and redis://cache:6379/0 and https://example.org/a:b@c`,
  hex_colors_and_ids: () => `color #${str(HEX, 6)}, build ${str(DIG, 10)}, id=${str(HEX, 24)}`,
  jwt_like_not_json: () => `eyJ${str(B62, 20)}.${str(B62, 20)}.${str(B62, 20)}`,
  base64_json_blob: () => `{"thumbnail": "${bytes(int(60, 300)).toString("base64")}", "request_id": "${[8, 4, 4, 4, 12].map((n) => str(HEX, n)).join("-")}"}`,
  public_keys: () => pick([`-----BEGIN PUBLIC KEY-----\n${pemBody()}\n-----END PUBLIC KEY-----`,
    `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${str(B64, 43)} dev@laptop`, `-----BEGIN CERTIFICATE-----\n${pemBody()}\n-----END CERTIFICATE-----`]),
  npm_integrity: () => `"integrity": "sha512-${bytes(64).toString("base64")}"`,
  secret_references: () => pick(["valueFrom:\n  secretKeyRef:\n    name: db-secret\n    key: password", "password_file: /run/secrets/db_password",
    "token = os.environ[\"GITHUB_TOKEN\"]", "api_key = config.get('api_key')", "secret: !vault kv/data/app#secret"]),
};

// ---- PII --------------------------------------------------------------------
function luhnComplete(prefix, len) {
  let d = prefix + str(DIG, len - prefix.length - 1);
  for (let c = 0; c < 10; c++) {
    const s = d + c; let sum = 0;
    for (let i = 0; i < s.length; i++) { let v = +s[s.length - 1 - i]; if (i % 2) { v *= 2; if (v > 9) v -= 9; } sum += v; }
    if (sum % 10 === 0) return s;
  }
}
function group(d, sizes, sep) { const out = []; let i = 0; for (const n of sizes) { out.push(d.slice(i, i + n)); i += n; } return out.join(sep); }
function mod97(s) { let r = 0; for (const ch of s) r = (r * (/[0-9]/.test(ch) ? 10 : 100) + (/[0-9]/.test(ch) ? +ch : ch.charCodeAt(0) - 55)) % 97; return r; }
const IBAN = { DE: 18, FR: 23, GB: 18, NL: 14, ES: 20, IT: 23, BE: 12, CH: 17, AT: 16, PL: 24 };
function iban(valid = true) {
  const c = pick(Object.keys(IBAN));
  const bban = (c === "GB" || c === "NL") ? str(UP, 4) + str(DIG, IBAN[c] - 4) : str(DIG, IBAN[c]);
  let check = 98 - mod97(bban + c + "00");
  if (!valid) check = (check % 97) + 1;
  return c + String(check).padStart(2, "0") + bban;
}
const AREA = ["212", "415", "650", "617", "312", "206", "303", "512", "305", "404", "718", "213"];
const ipv4 = () => [int(1, 223), int(0, 255), int(0, 255), int(1, 254)].join(".");
const ipv6 = () => pick([() => Array.from({ length: 8 }, () => int(0, 0xffff).toString(16)).join(":"),
  () => `2001:db8::${int(1, 0xffff).toString(16)}`, () => `fe80::${int(1, 0xffff).toString(16)}:${int(1, 0xffff).toString(16)}`])();
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const FIRST = ["alice", "bob", "carol", "dmitri", "eve", "farah", "gustavo", "hana"], DOMAINS = ["example.com", "mail.acme.io", "corp.example.org", "uni.edu"];

const piiGens = {
  email: () => { const v = `${pick(FIRST)}${pick([".", "_", ""])}${str(LO, int(2, 8))}${pick(["", "+tag", "42"])}@${pick(DOMAINS)}`; return [around(v), v]; },
  phone: () => { const a = pick(AREA), ex = String(int(201, 989)), ln = str(DIG, 4);
    const v = pick([`+1 ${a} ${ex} ${ln}`, `(${a}) ${ex}-${ln}`, `${a}-${ex}-${ln}`, `+1-${a}-${ex}-${ln}`, `+44 20 7946 0${str(DIG, 3)}`,
      `+44 7${int(400, 999)} ${str(DIG, 6)}`, `+49 30 ${str("123456789", 1)}${str(DIG, 7)}`, `+33 1 ${int(10, 99)} ${int(10, 99)} ${int(10, 99)} ${int(10, 99)}`,
      `020 7946 0${str(DIG, 3)}`]);
    return [pick([`call me at ${v} tomorrow`, `phone: ${v}`, around(v)]), v]; },
  card: () => { const [p, len, sizes] = pick([["4", 16, [4, 4, 4, 4]], [String(int(51, 55)), 16, [4, 4, 4, 4]], [String(int(2221, 2720)), 16, [4, 4, 4, 4]],
    [pick(["34", "37"]), 15, [4, 6, 5]], ["6011", 16, [4, 4, 4, 4]], [String(int(3528, 3589)), 16, [4, 4, 4, 4]], ["36", 14, [4, 6, 4]]]);
    const d = luhnComplete(p, len); const v = pick([d, group(d, sizes, " "), group(d, sizes, "-")]);
    return [pick([`card ${v} exp 04/29`, around(v), `{"card_number": "${v}"}`]), v]; },
  ssn: () => { let a; do { a = int(1, 899); } while (a === 666);
    const v = `${String(a).padStart(3, "0")}-${String(int(1, 99)).padStart(2, "0")}-${String(int(1, 9999)).padStart(4, "0")}`; return [pick([`SSN: ${v}`, around(v)]), v]; },
  iban: () => { const c = iban(); const v = pick([c, c.replace(/(.{4})/g, "$1 ").trim()]); return [pick([`IBAN ${v}`, `pay to ${v} by friday`]), v]; },
  ip: () => { const v = pick([ipv4, ipv6])(); return [pick([`client ${v} connected`, `host=${v}`, around(v)]), v]; },
  dob: () => { const y = int(1940, 2005), m = int(1, 12), d = int(1, 28);
    const v = pick([`${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`, `${String(m).padStart(2, "0")}/${String(d).padStart(2, "0")}/${y}`, `${MONTHS[m - 1]} ${d}, ${y}`]);
    return [pick([`DOB: ${v}`, `date of birth ${v}`, `She was born on ${v} in Lyon`]), v]; },
};

const piiNegatives = {
  uuid: () => `request ${[8, 4, 4, 4, 12].map((n) => str(HEX, n)).join("-")} finished`,
  git_hash: () => `commit ${str(HEX, 40)}`,
  versions: () => `upgraded to v${int(1, 9)}.${int(0, 20)}.${int(0, 30)} and node ${int(18, 22)}.${int(0, 9)}.${int(0, 9)}`,
  order_numbers: () => `order #${str(DIG, 8)} shipped, invoice ${str(DIG, 6)}, qty ${int(1, 500)}`,
  timestamps: () => `at ${int(2000, 2030)}-0${int(1, 9)}-1${int(0, 9)}T1${int(0, 9)}:${int(10, 59)}:${int(10, 59)}Z and 1${int(0, 9)}:${int(10, 59)}:${int(10, 59)}`,
  mac: () => `mac ${Array.from({ length: 6 }, () => str(HEX, 2)).join(":")}`,
  bad_luhn: () => { const d = luhnComplete("4", 16); return `card ${d.slice(0, 15)}${(+d[15] + 1) % 10}`; },
  bad_ssn: () => `${pick(["000", "666", String(int(900, 999))])}-${String(int(1, 99)).padStart(2, "0")}-${String(int(1, 9999)).padStart(4, "0")} is not valid`,
  bad_iban: () => `IBAN ${iban(false)}`,
  bad_ip: () => pick([`${int(256, 999)}.${int(0, 255)}.1.1`, `1.2.3`, `10.0.0.1.5`, `01.02.03.04`]),
  file_names: () => pick(["icon@2x.png", "logo@3x.jpg", "@types/node", "@Override", "user@localhost"]),
  dates_without_context: () => `meeting on ${int(2020, 2030)}-0${int(1, 9)}-1${int(0, 9)} about the budget`,
  cpp: () => `std::vector<int> v; a::b::c(); x = y ? a : b;`,
  words: () => sentence(int(8, 30)),
  prices: () => `$${int(1, 9)},${int(100, 999)}.${int(10, 99)} and EUR ${int(10, 9999)}`,
  long_numbers: () => `id ${str("123456789", 1)}${str(DIG, int(20, 30))}`,
  coordinates: () => `at ${int(-89, 89)}.${str(DIG, 4)}, ${int(-179, 179)}.${str(DIG, 4)}`,
  unix_times: () => `created ${int(1500000000, 1800000000)} updated ${int(1500000000, 1800000000)}000`,
  isbn: () => `ISBN ${pick(["978", "979"])}-${int(0, 9)}-${str(DIG, 2)}-${str(DIG, 6)}-${int(0, 9)}`,
  tracking: () => `tracking 1Z${str(UP + DIG, 6)}${str(DIG, 10)} and ${str(UP, 2)}${str(DIG, 9)}${str(UP, 2)}`,
  ranges: () => `${int(8, 11)}:${int(10, 59)}-${int(12, 17)}:${int(10, 59)}, pages ${int(10, 99)}-${int(100, 999)}, sizes ${int(1, 9)}x${int(10, 99)}`,
  semver: () => `"dependencies": {"a": "^${int(1, 9)}.${int(0, 9)}.${int(0, 9)}", "b": ">=${int(1, 9)}.${int(0, 9)}.0 <${int(10, 20)}.0.0"}`,
};

function emit(dir, gens, negs, perRule, perNeg) {
  mkdirSync(join(here, dir), { recursive: true });
  const pos = [], neg = [];
  for (const [rule, g] of Object.entries(gens)) for (let i = 0; i < perRule; i++) { const [text, value] = g(); pos.push(JSON.stringify({ rule, text, value })); }
  for (const [kind, g] of Object.entries(negs)) for (let i = 0; i < perNeg; i++) neg.push(JSON.stringify({ kind, text: g() }));
  writeFileSync(join(here, dir, "positives.jsonl"), pos.join("\n") + "\n");
  writeFileSync(join(here, dir, "negatives.jsonl"), neg.join("\n") + "\n");
  console.log(`${dir}: ${pos.length} positives, ${neg.length} negatives`);
}
emit("secrets", secretGens, secretNegatives, 20, 40);
emit("pii", piiGens, piiNegatives, 40, 30);
