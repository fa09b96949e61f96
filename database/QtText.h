#pragma once
// The one conversion from the project's std::string (UTF-8) to QString, for the folders that use
// Qt (database/, ui/, app/). core/ and models/ have no Qt.
#include <QString>

#include <string>

namespace panseg
{
inline QString qs(const std::string& s) { return QString::fromStdString(s); }
} // namespace panseg
