#pragma once
#include <QString>
#include <QStringList>
#include <string>

namespace panseg::cli
{
/// panseg server init|user|password|whoami ... (department mode on PostgreSQL).
int serverCommand(const QStringList& args);
QString serverUsage();
/// Asks for a password on the controlling terminal without echo; empty when there is none.
std::string terminalPassword(const std::string& prompt);

} // namespace panseg::cli
