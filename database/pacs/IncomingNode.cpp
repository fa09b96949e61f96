#include "database/pacs/IncomingNode.h"

#include "core/Error.h"
#include "core/pacs/PacsClient.h"
#include "core/pacs/PacsProfile.h"
#include "core/pacs/StorageServer.h"
#include "database/Importer.h"
#include "database/pacs/PacsService.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QUuid>

#include <map>

namespace panseg::db
{
namespace
{
constexpr int kMaxAttempts = 3;

QJsonObject readJson(const QString& path)
{
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return {};
  return QJsonDocument::fromJson(f.readAll()).object();
}

void writeJson(const QString& path, const QJsonObject& o)
{
  const QString tmp = path + ".tmp";
  QFile f(tmp);
  if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(QJsonDocument(o).toJson()) < 0 || !f.flush())
    throw Error("cannot write the queue file " + tmp.toStdString());
  f.close();
  QFile::remove(path);
  if (!QFile::rename(tmp, path))
    throw Error("cannot write the queue file " + path.toStdString());
}
} // namespace

struct IncomingNode::Impl
{
  StudyDatabase& db;
  IncomingOptions o;
  QString root, incoming, queue;
  std::unique_ptr<pacs::StorageServer> server;

  Impl(StudyDatabase& database, IncomingOptions options) : db(database), o(std::move(options)) {}

  void log(const QString& line) const
  {
    if (o.log)
      o.log(line);
  }

  void importGroup(const QString& uid, const QStringList& files)
  {
    static const QRegularExpression uidRe("^[0-9]+(\\.[0-9]+)*$");
    auto drop = [&]() {
      for (const QString& f : files)
        QFile::remove(f);
    };
    if (uid.size() > 64 || !uidRe.match(uid).hasMatch())
    {
      drop();
      log(QString("dropped %1 instance(s) with an invalid SeriesInstanceUID '%2'").arg(files.size()).arg(uid));
      return;
    }
    if (const auto id = seriesIdByInstanceUid(db, uid.toStdString()))
    {
      drop();
      log(QString("series %1 is already in the database as series %2; %3 received instance(s) dropped")
            .arg(uid)
            .arg(*id)
            .arg(files.size()));
      return;
    }
    const QString partial =
        QDir(root).filePath(".partial-incoming-" + uid + "-" + QUuid::createUuid().toString(QUuid::Id128).left(8));
    const QString final = QDir(root).filePath(uid);
    try
    {
      if (!QDir().mkpath(partial))
        throw Error("cannot create " + partial.toStdString());
      for (const QString& f : files)
        if (!QFile::rename(f, QDir(partial).filePath(QFileInfo(f).fileName())))
          throw Error("cannot move " + f.toStdString() + " out of the incoming folder");
      if (QFileInfo::exists(final) && !QDir(final).removeRecursively())
        throw Error("cannot replace the leftover folder " + final.toStdString());
      if (!QDir().rename(partial, final))
        throw Error("cannot move the received series to " + final.toStdString());
      ImportOptions io;
      io.center = o.center;
      const ImportReport r = importPaths(db, { final.toStdString() }, io);
      if (!r.importedSeries.empty())
      {
        const int64_t id = r.importedSeries.front();
        log(QString("imported series %1 (%2, %3 instance(s))").arg(id).arg(uid).arg(files.size()));
        if (!o.predictModel.isEmpty())
        {
          const QString job = QDir(queue).filePath(
              QString("%1-%2.json").arg(QDateTime::currentDateTimeUtc().toString("yyyyMMddTHHmmsszzz")).arg(id));
          writeJson(job, QJsonObject{ { "series_id", qint64(id) },
                                      { "series_uid", uid },
                                      { "model", o.predictModel },
                                      { "fast", o.fast },
                                      { "send_to", o.sendTo },
                                      { "stage", "predict" },
                                      { "attempts", 0 } });
          log(QString("queued series %1 for prediction (%2 job(s) waiting)").arg(id).arg(queuedJobs()));
        }
        return;
      }
      QDir(final).removeRecursively();
      if (!r.duplicateSeries.empty())
        log(QString("series %1: %2").arg(uid, QString::fromStdString(r.duplicateSeries.front().reason)));
      else if (!r.failures.empty())
        log(QString("series %1 refused: %2").arg(uid, QString::fromStdString(r.failures.front().reason)));
      else
        log(QString("series %1 holds no image to import; dropped").arg(uid));
    }
    catch (const std::exception& e)
    {
      QDir(partial).removeRecursively();
      log(QString("series %1 not imported: %2").arg(uid, QString::fromStdString(e.what())));
    }
  }

  int queuedJobs() const { return int(QDir(queue).entryList({ "*.json" }, QDir::Files).size()); }

  void runJob(const QString& path)
  {
    QJsonObject job = readJson(path);
    const qint64 seriesId = job.value("series_id").toInteger();
    const int attempt = job.value("attempts").toInt() + 1;
    job["attempts"] = attempt;
    writeJson(path, job);
    try
    {
      if (seriesId <= 0)
        throw Error("damaged queue file");
      if (job.value("stage").toString() == "predict")
      {
        QStringList args{ "predict", "--series", QString::number(seriesId), "--db", QString::fromStdString(db.dataFolder()),
                          "--model", job.value("model").toString(), "--user",
                          QString::fromStdString(db.currentUser().username) };
        if (job.value("fast").toBool())
          args << "--fast";
        QProcess p;
        p.start(o.pansegExecutable.isEmpty() ? QCoreApplication::applicationFilePath() : o.pansegExecutable, args);
        p.waitForFinished(-1);
        const QString out = QString::fromUtf8(p.readAllStandardOutput());
        const QString err = QString::fromUtf8(p.readAllStandardError()).trimmed();
        static const QRegularExpression saved("saved as mask version (\\d+)");
        const auto m = saved.match(out);
        if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0 || !m.hasMatch())
          throw Error("prediction failed: " + err.section('\n', -1).toStdString());
        job["mask_version"] = m.captured(1).toLongLong();
        log(QString("predicted series %1: AI mask version %2 (%3)")
              .arg(seriesId)
              .arg(m.captured(1))
              .arg(out.section('\n', 0, 0).trimmed()));
        job["stage"] = job.value("send_to").toString().isEmpty() ? "done" : "send";
        job["attempts"] = 0;
        writeJson(path, job);
      }
      if (job.value("stage").toString() == "send")
      {
        const QString to = job.value("send_to").toString();
        auto client = pacs::makeClient(pacs::ProfileStore().get(to));
        const int64_t version = job.value("mask_version").toInteger();
        const PacsSendResult r = sendMaskVersion(db, *client, version);
        log(QString("sent mask version %1 of series %2 to %3 as DICOM SEG %4")
              .arg(version)
              .arg(seriesId)
              .arg(to, QString::fromStdString(r.sopInstanceUid)));
      }
      QFile::remove(path);
    }
    catch (const std::exception& e)
    {
      if (attempt >= kMaxAttempts)
      {
        QDir().mkpath(QDir(queue).filePath("failed"));
        QFile::rename(path, QDir(queue).filePath("failed/" + QFileInfo(path).fileName()));
        log(QString("job for series %1 failed %2 times, moved to %3: %4")
              .arg(seriesId)
              .arg(attempt)
              .arg(QDir(queue).filePath("failed"), QString::fromStdString(e.what())));
      }
      else
      {
        QJsonObject again = readJson(path);
        again["retry_after"] = QDateTime::currentDateTimeUtc().addSecs(30 * attempt).toString(Qt::ISODate);
        writeJson(path, again);
        log(QString("job for series %1 failed (attempt %2 of %3, retried in %5 s): %4")
              .arg(seriesId)
              .arg(attempt)
              .arg(kMaxAttempts)
              .arg(QString::fromStdString(e.what()))
              .arg(30 * attempt));
      }
    }
  }
};

IncomingNode::IncomingNode(StudyDatabase& db, IncomingOptions options) : d(std::make_unique<Impl>(db, std::move(options)))
{
  d->root = QString::fromStdString(pacsStorageFolder(db));
  d->incoming = QDir(d->root).filePath("incoming");
  d->queue = QDir(d->root).filePath("queue");
  if (!QDir().mkpath(d->incoming) || !QDir().mkpath(d->queue))
    throw Error("cannot create " + d->incoming.toStdString() + " and " + d->queue.toStdString());
  if (!d->o.sendTo.isEmpty())
    pacs::ProfileStore().get(d->o.sendTo).validate(); // a wrong name fails now, not after a prediction
  d->server = std::make_unique<pacs::StorageServer>(d->o.aeTitle, d->o.port, d->incoming);
  d->log(QString("listening as %1 on port %2; received series go to %3, queue %4 (%5 job(s) waiting)")
           .arg(d->o.aeTitle)
           .arg(d->o.port)
           .arg(d->root, d->queue)
           .arg(d->queuedJobs()));
}

IncomingNode::~IncomingNode() = default;

int IncomingNode::queuedJobs() const
{
  return d->queuedJobs();
}

int IncomingNode::receivedInstances() const
{
  return d->server->received();
}

int IncomingNode::poll()
{
  int done = 0;
  const QFileInfoList files = QDir(d->incoming).entryInfoList({ "*.dcm" }, QDir::Files);
  if (!files.isEmpty())
  {
    QDateTime newest;
    for (const QFileInfo& f : files)
      newest = std::max(newest, f.lastModified());
    if (newest.msecsTo(QDateTime::currentDateTime()) >= d->o.settleMs)
    {
      std::map<QString, QStringList> groups;
      for (const QFileInfo& f : files)
      {
        const QString uid = pacs::seriesInstanceUidOf(f.absoluteFilePath());
        if (uid.isEmpty())
        {
          QFile::remove(f.absoluteFilePath());
          d->log("dropped " + f.fileName() + ": not a DICOM file with a SeriesInstanceUID");
          continue;
        }
        groups[uid] << f.absoluteFilePath();
      }
      for (const auto& [uid, group] : groups)
      {
        d->importGroup(uid, group);
        ++done;
      }
    }
  }
  const QFileInfoList jobs = QDir(d->queue).entryInfoList({ "*.json" }, QDir::Files, QDir::Name);
  const QDateTime now = QDateTime::currentDateTimeUtc();
  for (const QFileInfo& job : jobs)
  {
    const QString retryAfter = readJson(job.absoluteFilePath()).value("retry_after").toString();
    if (!retryAfter.isEmpty() && QDateTime::fromString(retryAfter, Qt::ISODate) > now)
      continue;
    d->runJob(job.absoluteFilePath());
    ++done;
    break;
  }
  return done;
}
} // namespace panseg::db
