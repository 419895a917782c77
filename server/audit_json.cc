#include "server/audit_json.h"

#include "common/redact.h"
#include "common/time_format.h"

namespace relayq::server {

using store::Field;
using store::Record;

nlohmann::json RecordJson(const Record& record) {
  nlohmann::json j = nlohmann::json::object();
  for (const Field& f : record.fields) {
    switch (f.type) {
      case Field::Type::kNull:
        j[f.name] = nullptr;
        break;
      case Field::Type::kInt:
      case Field::Type::kSeconds:
        j[f.name] = f.i;
        break;
      // URLs as scheme://host/path, as everywhere relayq prints them;
      // control characters are escaped by the JSON encoding itself.
      case Field::Type::kText:
        j[f.name] = RedactUrlsIn(f.s);
        break;
      case Field::Type::kTime:
        j[f.name] = FormatRfc3339(f.i);
        break;
      case Field::Type::kList:
        j[f.name] = f.list;
        break;
      case Field::Type::kBool:
        j[f.name] = f.i != 0;
        break;
    }
  }
  return j;
}

nlohmann::json JobHistoryJson(const store::JobHistory& h) {
  nlohmann::json j = RecordJson(h.job);
  auto list = [](const std::vector<Record>& records) {
    nlohmann::json a = nlohmann::json::array();
    for (const Record& r : records) a.push_back(RecordJson(r));
    return a;
  };
  j["events"] = list(h.events);
  j["deliveries"] = list(h.deliveries);
  j["actions"] = list(h.actions);
  return j;
}

}  // namespace relayq::server
