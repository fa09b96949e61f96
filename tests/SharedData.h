#pragma once
// Locating ../shared for data tests; tests QSKIP with this message when it is absent.
#include <QDir>
#include <QFileInfo>
#include <QString>

namespace paths
{
inline QString sharedDir()
{
  const QByteArray env = qgetenv("PANSEG_SHARED_DIR");
  return QDir::cleanPath(env.isEmpty() ? QString(PANSEG_SHARED_DIR) : QString::fromLocal8Bit(env));
}
inline QString shared(const QString& rel) { return sharedDir() + "/" + rel; }
inline bool haveShared(const QString& rel) { return QFileInfo::exists(shared(rel)); }
} // namespace paths

#define PANSEG_REQUIRE_SHARED(rel)                                                                 \
  do                                                                                               \
  {                                                                                                \
    if (!paths::haveShared(rel))                                                                   \
      QSKIP(qPrintable(QString("reference data absent: %1 (clone ../shared beside the repo)")      \
                           .arg(paths::shared(rel))));                                             \
  } while (0)
