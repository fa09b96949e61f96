#pragma once
// Images are stored by reference. In department mode every workstation must reach the same
// files, often mounted at different places (a share at /mnt/pacs-export here, /Volumes/export
// there). PANSEG_PATH_MAP maps the path recorded at import to this workstation's path:
//   PANSEG_PATH_MAP="/srv/export=/mnt/export;/data/ct=/media/ct"
// The first FROM that is a prefix of the recorded path (at a folder boundary) is replaced by its
// TO. The content hash is still checked on load, so a wrong mapping is reported, never used.
#include <QByteArray>
#include <QString>
#include <QStringList>

#include <string>

namespace panseg::db
{
inline std::string localImagePath(const std::string& recorded)
{
  const QString map = QString::fromLocal8Bit(qgetenv("PANSEG_PATH_MAP"));
  const QString path = QString::fromStdString(recorded);
  for (const QString& rule : map.split(';', Qt::SkipEmptyParts))
  {
    const int eq = rule.indexOf('=');
    if (eq <= 0)
      continue;
    QString from = rule.left(eq);
    const QString to = rule.mid(eq + 1);
    while (from.size() > 1 && from.endsWith('/'))
      from.chop(1);
    if (path == from || path.startsWith(from + '/'))
      return (to + path.mid(from.size())).toStdString();
  }
  return recorded;
}
} // namespace panseg::db
