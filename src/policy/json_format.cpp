#include "policy/json_format.h"

#include "policy/extensions.h"

namespace portcullis::policy {

Result<EntityUid> uid_from_json(const Json& j) {
  const Json* u = &j;
  if (j.is_object() && j.contains("__entity")) u = &j["__entity"];
  if (!u->is_object() || !u->contains("type") || !u->contains("id") || !(*u)["type"].is_string() ||
      !(*u)["id"].is_string())
    return fail("expected an entity uid {\"type\": ..., \"id\": ...}, got " + j.dump());
  return EntityUid{(*u)["type"].get<std::string>(), (*u)["id"].get<std::string>()};
}

namespace {

Result<Value> extension_from_json(const Json& x) {
  if (!x.is_object() || !x.contains("fn") || !x["fn"].is_string())
    return fail("__extn needs {\"fn\": ..., \"arg\": ...}");
  const Json* arg = x.contains("arg") ? &x["arg"] : nullptr;
  if (!arg && x.contains("args") && x["args"].is_array() && x["args"].size() == 1)
    arg = &x["args"][0];
  if (!arg || !arg->is_string())
    return fail("__extn " + x["fn"].get<std::string>() + " needs one string argument");
  std::string fn = x["fn"].get<std::string>();
  const std::string& s = arg->get_ref<const std::string&>();
  if (fn == "ip" || fn == "ipaddr") {
    auto ip = parse_ip(s);
    if (!ip.ok()) return fail(ip.error());
    return Value(ip.value());
  }
  if (fn == "decimal") {
    auto d = parse_decimal(s);
    if (!d.ok()) return fail(d.error());
    return Value(d.value());
  }
  return fail("unknown extension function `" + fn + "`");
}

}  // namespace

Result<Value> value_from_json(const Json& j) {
  switch (j.type()) {
    case Json::value_t::boolean:
      return Value(j.get<bool>());
    case Json::value_t::number_integer:
      return Value(j.get<int64_t>());
    case Json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > uint64_t(INT64_MAX)) return fail("integer " + j.dump() + " is out of range");
      return Value(int64_t(u));
    }
    case Json::value_t::string:
      return Value(j.get<std::string>());
    case Json::value_t::array: {
      ValueSet items;
      for (const auto& e : j) {
        auto v = value_from_json(e);
        if (!v.ok()) return v;
        items.push_back(std::move(v.value()));
      }
      return Value::set(std::move(items));
    }
    case Json::value_t::object: {
      if (j.size() == 1 && j.contains("__entity")) {
        auto u = uid_from_json(j);
        if (!u.ok()) return fail(u.error());
        return Value(u.value());
      }
      if (j.size() == 1 && j.contains("__extn")) return extension_from_json(j["__extn"]);
      ValueRecord r;
      for (const auto& [k, e] : j.items()) {
        auto v = value_from_json(e);
        if (!v.ok()) return v;
        r.emplace(k, std::move(v.value()));
      }
      return Value::record(std::move(r));
    }
    default:
      return fail("unsupported JSON value " + j.dump() + " (Cedar has no null or floating point)");
  }
}

Result<std::vector<Entity>> entities_from_json(const Json& j) {
  if (!j.is_array()) return fail("entities must be a JSON array");
  std::vector<Entity> out;
  out.reserve(j.size());
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("uid")) return fail("each entity needs a \"uid\"");
    auto uid = uid_from_json(e["uid"]);
    if (!uid.ok()) return fail(uid.error());
    Entity ent{uid.value(), {}, {}, {}};
    for (const char* field : {"attrs", "tags"}) {
      if (!e.contains(field)) continue;
      auto rec = value_from_json(e[field]);
      if (!rec.ok()) return fail(ent.uid.to_string() + ": " + rec.error());
      if (!rec->is(Value::Kind::Record))
        return fail(ent.uid.to_string() + ": " + field + " must be an object");
      (std::string(field) == "attrs" ? ent.attrs : ent.tags) = rec->as_record();
    }
    if (e.contains("parents")) {
      if (!e["parents"].is_array()) return fail(ent.uid.to_string() + ": parents must be an array");
      for (const auto& p : e["parents"]) {
        auto pu = uid_from_json(p);
        if (!pu.ok()) return fail(ent.uid.to_string() + ": " + pu.error());
        ent.parents.push_back(pu.value());
      }
    }
    out.push_back(std::move(ent));
  }
  return out;
}

Result<Request> request_from_json(const Json& j) {
  if (!j.is_object()) return fail("a request must be a JSON object");
  Request r;
  EntityUid* slots[] = {&r.principal, &r.action, &r.resource};
  const char* names[] = {"principal", "action", "resource"};
  for (int i = 0; i < 3; ++i) {
    if (!j.contains(names[i])) return fail(std::string("request needs \"") + names[i] + "\"");
    auto u = uid_from_json(j[names[i]]);
    if (!u.ok()) return fail(std::string(names[i]) + ": " + u.error());
    *slots[i] = u.value();
  }
  if (j.contains("context")) {
    auto c = value_from_json(j["context"]);
    if (!c.ok()) return fail("context: " + c.error());
    if (!c->is(Value::Kind::Record)) return fail("context must be a JSON object");
    r.context = c.value();
  }
  return r;
}

}  // namespace portcullis::policy
