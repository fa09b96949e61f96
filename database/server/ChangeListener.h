#pragma once
// Server mode: tells a workstation within about a second that another workstation changed
// something (a read was submitted, a mask saved, a job moved on), so that worklists and docks
// refresh without polling. A dedicated PostgreSQL connection LISTENs on "panseg_changes"; the
// server's triggers (ServerSecurity.cpp) NOTIFY with the table name and, for reader-study rows,
// the study id ("reader_study_reads:3"). The payload names no mask, reader or value, so it
// reveals nothing that blinding hides. When the server restarts, the listener reconnects and
// subscribes again (checked every `retryMs`). In local mode it does nothing.
#include "database/StudyDatabase.h"

#include <QObject>
#include <QString>

#include <memory>

class QTimer;

namespace panseg::db
{
class ChangeListener : public QObject
{
  Q_OBJECT
public:
  ChangeListener(const std::string& location, const StudyDatabase::OpenOptions& options, QObject* parent = nullptr,
                 int retryMs = 1000);
  ~ChangeListener() override;
  /// True while subscribed on a live connection.
  bool listening() const;

signals:
  /// `what`: "mask_versions", "jobs", "reader_study_reads:ID", ...
  void changed(const QString& what);
  void listeningChanged(bool listening);

private:
  void check();
  bool connectAndListen();
  struct Impl;
  std::unique_ptr<Impl> d;
};
} // namespace panseg::db
