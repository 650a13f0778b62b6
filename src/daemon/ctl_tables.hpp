// tapflowctl's text output: aligned tables (as birdc and vtysh print them)
// for the control socket's replies.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tapflow::ctl {

// Columns padded to their widest cell, two spaces apart, no trailing blanks.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::size_t size() const { return rows_.size(); }
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// A JSON value as a cell: strings as they are, null "-", true/false
// "yes"/"no", numbers as JSON writes them.
std::string cell(const nlohmann::json& value);

// The text for a reply to `view` ("status", "routes", "flows", ...).
std::string format_reply(const std::string& view, const nlohmann::json& reply);

}  // namespace tapflow::ctl
