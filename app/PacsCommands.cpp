#include "PacsCommands.h"

#include "Cli.h"

#include "core/Error.h"
#include "core/pacs/PacsClient.h"
#include "core/pacs/PacsProfile.h"
#include "database/StudyDatabase.h"
#include "database/pacs/IncomingNode.h"
#include "database/pacs/PacsService.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QThread>
#include <QFileInfo>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <atomic>
#include <csignal>
#include <cstdio>

namespace panseg::cli
{
namespace
{
std::atomic<bool> g_cancel{ false };
void pacsInterrupt(int)
{
  g_cancel = true;
}

QString mb(qint64 bytes)
{
  return QString::number(bytes / 1e6, 'f', 1) + " MB";
}

QJsonObject toJson(const pacs::PacsRecord& r)
{
  QJsonObject o{ { "level", r.level == pacs::Level::Study ? "study" : "series" },
                 { "patient_name", r.patientName },
                 { "patient_id", r.patientId },
                 { "study_date", r.studyDate },
                 { "accession", r.accession },
                 { "study_uid", r.studyUid },
                 { "modality", r.modality },
                 { "description", r.description },
                 { "instances", r.instances } };
  if (r.level == pacs::Level::Series)
  {
    o["series_uid"] = r.seriesUid;
    o["series_number"] = r.seriesNumber;
  }
  return o;
}

int addCommand(const QStringList& args)
{
  const QString synopsis = "panseg pacs add NAME (--url URL [--auth none|basic|bearer] [--user-name U] "
                           "[--secret-file FILE] | --host H --port P --called-aet AET [--calling-aet AET] "
                           "[--retrieve get|move --storage-port N]) "
                           "[--timeout SECONDS]";
  Args a(args, {});
  if (!checkOptions(args, a,
                    { "url", "auth", "user-name", "secret-file", "host", "port", "called-aet", "calling-aet", "retrieve",
                      "storage-port", "timeout" },
                    1, 1, synopsis))
    return Usage;
  if (a.has("url") == a.has("host"))
  {
    printError("give either --url (DICOMweb) or --host (DIMSE); usage: " + synopsis);
    return Usage;
  }
  pacs::PacsProfile p;
  p.name = a.positionals[0];
  if (a.has("url"))
  {
    if (a.has("retrieve") || a.has("storage-port"))
    {
      printError("--retrieve and --storage-port apply to DIMSE (--host) profiles");
      return Usage;
    }
    p.protocol = pacs::Protocol::DicomWeb;
    p.url = a.value("url");
    p.auth = pacs::parseAuth(a.value("auth", a.has("user-name") ? "basic" : "none"));
    p.username = a.value("user-name");
    if (a.has("secret-file"))
      p.secretFile = QFileInfo(a.value("secret-file")).absoluteFilePath();
  }
  else
  {
    if (a.has("auth") || a.has("user-name") || a.has("secret-file"))
    {
      printError("--auth, --user-name and --secret-file apply to DICOMweb (--url) profiles");
      return Usage;
    }
    p.protocol = pacs::Protocol::Dimse;
    p.host = a.value("host");
    bool ok = true;
    p.port = a.intValue("port", 104, &ok);
    if (!ok)
    {
      printError("--port must be a whole number");
      return Usage;
    }
    p.calledAet = a.value("called-aet");
    p.callingAet = a.value("calling-aet", "PANSEG");
    const QString retrieve = a.value("retrieve", a.has("storage-port") ? "move" : "get");
    if (retrieve != "get" && retrieve != "move")
    {
      printError("--retrieve must be get (C-GET) or move (C-MOVE to our storage SCP on --storage-port)");
      return Usage;
    }
    p.useMove = retrieve == "move";
    p.storagePort = a.intValue("storage-port", 0, &ok);
    if (!ok)
    {
      printError("--storage-port must be a whole number");
      return Usage;
    }
  }

  if (a.has("timeout"))
  {
    bool ok = false;
    const double s = a.value("timeout").toDouble(&ok);
    if (!ok || s <= 0)
    {
      printError("--timeout must be a positive number of seconds");
      return Usage;
    }
    p.timeoutMs = int(s * 1000);
  }
  pacs::ProfileStore store;
  const bool replaced = store.contains(p.name);
  store.save(p);
  std::printf("%s PACS profile %s\n", replaced ? "replaced" : "added", qPrintable(p.summary()));
  return Ok;
}

int listCommand(const QStringList& args)
{
  Args a(args, { "json" });
  if (!checkOptions(args, a, { "json" }, 0, 0, "panseg pacs list [--json]"))
    return Usage;
  pacs::ProfileStore store;
  const auto profiles = store.list();
  if (a.has("json"))
  {
    QJsonArray arr;
    for (const auto& p : profiles)
      arr.append(QJsonObject{ { "name", p.name },
                              { "protocol", pacs::toString(p.protocol) },
                              { "url", p.url },
                              { "host", p.host },
                              { "port", p.protocol == pacs::Protocol::Dimse ? QJsonValue(p.port) : QJsonValue() },
                              { "called_aet", p.calledAet },
                              { "calling_aet", p.protocol == pacs::Protocol::Dimse ? p.callingAet : QString() },
                              { "retrieve", p.protocol == pacs::Protocol::Dimse ? (p.useMove ? "move" : "get") : "wado-rs" },
                              { "storage_port", p.useMove ? QJsonValue(p.storagePort) : QJsonValue() },
                              { "auth", pacs::toString(p.auth) },
                              { "user_name", p.username },
                              { "secret_file", p.secretFile },
                              { "timeout_s", p.timeoutMs / 1000.0 } });
    std::printf("%s\n", QJsonDocument(arr).toJson(QJsonDocument::Compact).constData());
    return Ok;
  }
  if (profiles.empty())
    std::printf("no PACS profiles in %s (add one with panseg pacs add)\n", qPrintable(store.path()));
  for (const auto& p : profiles)
    std::printf("%s\n", qPrintable(p.summary()));
  return Ok;
}

int removeCommand(const QStringList& args)
{
  Args a(args, {});
  if (!checkOptions(args, a, {}, 1, 1, "panseg pacs remove NAME"))
    return Usage;
  pacs::ProfileStore().remove(a.positionals[0]);
  std::printf("removed PACS profile %s\n", qPrintable(a.positionals[0]));
  return Ok;
}

int echoCommand(const QStringList& args)
{
  Args a(args, {});
  if (!checkOptions(args, a, {}, 1, 1, "panseg pacs echo NAME"))
    return Usage;
  ensureHeadlessApplication(false);
  const pacs::PacsProfile p = pacs::ProfileStore().get(a.positionals[0]);
  QElapsedTimer t;
  t.start();
  pacs::makeClient(p)->echo();
  std::printf("PACS %s answers (%s, %lld ms)\n", qPrintable(p.name),
              p.protocol == pacs::Protocol::Dimse ? "C-ECHO" : "QIDO-RS", static_cast<long long>(t.elapsed()));
  return Ok;
}

int findCommand(const QStringList& args)
{
  const QString synopsis = "panseg pacs find NAME [--patient-name 'DOE*'] [--patient-id ID] [--date FROM-TO] "
                           "[--modality CT] [--accession N] [--study UID] [--series UID] [--level study|series] "
                           "[--limit N] [--offset N] [--json]";
  Args a(args, { "json" });
  if (!checkOptions(args, a,
                    { "patient-name", "patient-id", "date", "modality", "accession", "study", "series", "level",
                      "limit", "offset", "json" },
                    1, 1, synopsis))
    return Usage;
  pacs::QueryFilter f;
  const QString level = a.value("level", a.has("series") ? "series" : "study");
  if (level != "study" && level != "series")
  {
    printError("--level must be study or series");
    return Usage;
  }
  f.level = level == "series" ? pacs::Level::Series : pacs::Level::Study;
  f.patientName = a.value("patient-name");
  f.patientId = a.value("patient-id");
  if (a.has("date"))
    f.dateRange = pacs::normalizeDateRange(a.value("date"));
  f.modality = a.value("modality");
  f.accession = a.value("accession");
  f.studyUid = a.value("study");
  f.seriesUid = a.value("series");
  bool ok1 = true, ok2 = true;
  f.limit = a.intValue("limit", 0, &ok1);
  f.offset = a.intValue("offset", 0, &ok2);
  if (!ok1 || !ok2 || f.limit < 0 || f.offset < 0)
  {
    printError("--limit and --offset must be whole numbers >= 0");
    return Usage;
  }
  ensureHeadlessApplication(false);
  const pacs::PacsProfile p = pacs::ProfileStore().get(a.positionals[0]);
  const auto records = pacs::makeClient(p)->find(f);
  if (a.has("json"))
  {
    QJsonArray arr;
    for (const auto& r : records)
      arr.append(toJson(r));
    std::printf("%s\n", QJsonDocument(arr).toJson(QJsonDocument::Compact).constData());
    return Ok;
  }
  for (const auto& r : records)
  {
    if (r.level == pacs::Level::Study)
      std::printf("%s  %s  %s  %s  %s  %d instance(s)  study %s\n", qPrintable(r.patientId), qPrintable(r.patientName),
                  qPrintable(r.studyDate), qPrintable(r.modality), qPrintable(r.description), r.instances,
                  qPrintable(r.studyUid));
    else
      std::printf("%s  %s  %s  %s  #%d %s  %d instance(s)  series %s\n", qPrintable(r.patientId),
                  qPrintable(r.patientName), qPrintable(r.studyDate), qPrintable(r.modality), r.seriesNumber,
                  qPrintable(r.description), r.instances, qPrintable(r.seriesUid));
  }
  std::fprintf(stderr, "%zu %s\n", records.size(), f.level == pacs::Level::Study ? "study(ies)" : "series");
  return Ok;
}

int getCommand(const QStringList& args)
{
  const QString synopsis = "panseg pacs get NAME --series UID [--study UID] [--db DIR] [--user NAME] [--center C] [--json]";
  Args a(args, { "json" });
  if (!checkOptions(args, a, { "series", "study", "db", "user", "center", "json" }, 1, 1, synopsis))
    return Usage;
  if (!a.has("series"))
  {
    printError("usage: " + synopsis);
    return Usage;
  }
  ensureHeadlessApplication(false);
  const pacs::PacsProfile p = pacs::ProfileStore().get(a.positionals[0]);
  db::StudyDatabase::OpenOptions o;
  o.username = actingUserOption(a);
  db::StudyDatabase database(a.value("db", QString::fromStdString(db::StudyDatabase::defaultDataFolder())).toStdString(), o);
  auto client = pacs::makeClient(p);
  db::PacsRetrieveOptions ro;
  ro.studyUid = a.value("study");
  ro.center = a.value("center").toStdString();
  ro.cancel = &g_cancel;
  QElapsedTimer last;
  last.start();
  int lastFiles = -1;
  ro.progress = [&](const pacs::TransferProgress& tp) {
    if (tp.files != lastFiles && (last.elapsed() > 300 || tp.files == tp.expectedFiles))
    {
      lastFiles = tp.files;
      last.restart();
      if (tp.expectedFiles > 0)
        std::fprintf(stderr, "retrieving: %d/%d files, %s\n", tp.files, tp.expectedFiles, qPrintable(mb(tp.bytes)));
      else
        std::fprintf(stderr, "retrieving: %d files, %s\n", tp.files, qPrintable(mb(tp.bytes)));
    }
  };
  g_cancel = false;
  auto previous = std::signal(SIGINT, pacsInterrupt);
  auto previousTerm = std::signal(SIGTERM, pacsInterrupt);
  db::PacsRetrieveResult r;
  try
  {
    r = db::retrieveSeries(database, *client, a.value("series"), ro);
  }
  catch (const pacs::Cancelled&)
  {
    std::signal(SIGINT, previous);
    std::signal(SIGTERM, previousTerm);
    throw Error("retrieve cancelled; nothing was imported");
  }
  std::signal(SIGINT, previous);
  std::signal(SIGTERM, previousTerm);
  if (a.has("json"))
  {
    const QJsonObject out{ { "series_id", qint64(r.seriesId) },
                           { "already_present", r.alreadyPresent },
                           { "duplicate_content", r.duplicateContent },
                           { "files", r.files },
                           { "bytes", qint64(r.bytes) },
                           { "seconds", r.seconds },
                           { "folder", QString::fromStdString(r.folder) } };
    std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Compact).constData());
    return Ok;
  }
  if (r.alreadyPresent)
    std::printf("series %s is already in the database as series %lld; nothing fetched\n", qPrintable(a.value("series")),
                static_cast<long long>(r.seriesId));
  else if (r.duplicateContent)
    std::printf("retrieved %d files; the same image is already in the database as series %lld\n", r.files,
                static_cast<long long>(r.seriesId));
  else
    std::printf("imported series %lld: %d files, %s in %.1f s (%s)\n", static_cast<long long>(r.seriesId), r.files,
                qPrintable(mb(r.bytes)), r.seconds, r.folder.c_str());
  return Ok;
}

int sendCommand(const QStringList& args)
{
  const QString synopsis = "panseg pacs send NAME --mask-version ID [--db DIR] [--user NAME]";
  Args a(args, {});
  if (!checkOptions(args, a, { "mask-version", "db", "user" }, 1, 1, synopsis))
    return Usage;
  bool ok = false;
  const qint64 id = a.value("mask-version").toLongLong(&ok);
  if (!ok || id <= 0)
  {
    printError("--mask-version must be a mask version id (see panseg db masks); usage: " + synopsis);
    return Usage;
  }
  ensureHeadlessApplication(false);
  const pacs::PacsProfile p = pacs::ProfileStore().get(a.positionals[0]);
  db::StudyDatabase::OpenOptions o;
  o.username = actingUserOption(a);
  db::StudyDatabase database(a.value("db", QString::fromStdString(db::StudyDatabase::defaultDataFolder())).toStdString(), o);
  auto client = pacs::makeClient(p);
  const db::PacsSendResult r = db::sendMaskVersion(database, *client, id);
  std::printf("sent mask version %lld to PACS %s as DICOM SEG %s (%d segment(s), %d frame(s))\n",
              static_cast<long long>(id), qPrintable(p.name), r.sopInstanceUid.c_str(), r.segments, r.frames);
  return Ok;
}
} // namespace

int listenCommand(const QStringList& args)
{
  const QString synopsis = "panseg listen --aet AET --port N [--db DIR] [--user NAME] [--center C] "
                           "[--auto-predict MODEL_DIR [--send-to NAME] [--no-fast]] [--settle SECONDS]";
  Args a(args, { "no-fast" });
  if (!checkOptions(args, a, { "aet", "port", "db", "user", "center", "auto-predict", "send-to", "no-fast", "settle" }, 0,
                    0, synopsis))
    return Usage;
  bool ok = true;
  db::IncomingOptions o;
  o.aeTitle = a.value("aet", "PANSEG");
  o.port = a.intValue("port", 11112, &ok);
  if (!ok)
  {
    printError("--port must be a whole number");
    return Usage;
  }
  if (a.has("send-to") && !a.has("auto-predict"))
  {
    printError("--send-to sends the AI mask back and needs --auto-predict MODEL_DIR");
    return Usage;
  }
  if (a.has("settle"))
  {
    const double s = a.value("settle").toDouble(&ok);
    if (!ok || s < 0.1 || s > 3600)
    {
      printError("--settle must be a number of seconds from 0.1 to 3600");
      return Usage;
    }
    o.settleMs = int(s * 1000);
  }
  o.center = a.value("center").toStdString();
  if (a.has("auto-predict"))
    o.predictModel = QFileInfo(a.value("auto-predict")).absoluteFilePath();
  o.fast = !a.has("no-fast");
  o.sendTo = a.value("send-to");
  o.log = [](const QString& line) {
    std::printf("%s  %s\n", qPrintable(QDateTime::currentDateTime().toString(Qt::ISODate)), qPrintable(line));
    std::fflush(stdout);
  };
  ensureHeadlessApplication(false);
  db::StudyDatabase::OpenOptions oo;
  oo.username = actingUserOption(a);
  db::StudyDatabase database(a.value("db", QString::fromStdString(db::StudyDatabase::defaultDataFolder())).toStdString(), oo);
  g_cancel = false;
  auto previous = std::signal(SIGINT, pacsInterrupt);
  auto previousTerm = std::signal(SIGTERM, pacsInterrupt);
  {
    db::IncomingNode node(database, o);
    while (!g_cancel)
    {
      const int done = node.poll();
      QCoreApplication::processEvents();
      if (done == 0)
        QThread::msleep(250);
    }
    o.log(QString("stopping (%1 job(s) stay queued for the next start)").arg(node.queuedJobs()));
  }
  std::signal(SIGINT, previous);
  std::signal(SIGTERM, previousTerm);
  return Ok;
}

QString pacsUsage()
{
  return "  panseg pacs add NAME (--url URL [--auth none|basic|bearer] [--user-name U] [--secret-file F]\n"
         "                       | --host H --port P --called-aet AET [--calling-aet AET]\n"
         "                         [--retrieve get|move --storage-port N]) [--timeout S]\n"
         "  panseg pacs list [--json] | remove NAME | echo NAME\n"
         "                                   PACS profiles (per user; secrets stay in files), verification\n"
         "  panseg pacs find NAME [--patient-name 'DOE*'] [--patient-id ID] [--date FROM-TO] [--modality CT]\n"
         "                   [--accession N] [--level study|series] [--limit N] [--offset N] [--json]\n"
         "  panseg pacs get NAME --series UID [--db DIR]   retrieve a series into the study database\n"
         "  panseg pacs send NAME --mask-version ID [--db DIR]   store a mask version as DICOM SEG\n"
         "  panseg listen --aet AET --port N [--db DIR] [--auto-predict MODEL_DIR [--send-to NAME]]\n"
         "                                   C-STORE SCP: import received series, predict them, send the SEG back\n"
         "  panseg bench pacs [--slices N] [--reps N]   WADO-RS and C-GET retrieve next to curl, getscu, import\n";
}

int pacsCommand(const QStringList& args)
{
  const QString sub = args.value(0);
  const QStringList rest = args.mid(1);
  if (sub == "add")
    return addCommand(rest);
  if (sub == "list")
    return listCommand(rest);
  if (sub == "remove")
    return removeCommand(rest);
  if (sub == "echo")
    return echoCommand(rest);
  if (sub == "find")
    return findCommand(rest);
  if (sub == "get")
    return getCommand(rest);
  if (sub == "send")
    return sendCommand(rest);
  printError("usage: panseg pacs add|list|remove|echo|find|get|send ... (see panseg --help)");
  return Usage;
}
} // namespace panseg::cli
