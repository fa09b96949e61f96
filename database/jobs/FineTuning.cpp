#include "database/jobs/FineTuning.h"
#include "database/QtText.h"

#include "core/AtomicFile.h"
#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "database/ContentHash.h"
#include "database/registry/ModelRegistry.h"
#include "database/SharedSql.h"
#include "database/SqlDialect.h"

#include <QDateTime>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QUrl>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <signal.h>
#include <sys/types.h>

namespace panseg::db
{
namespace
{
namespace fs = std::filesystem;
using Sql = detail::SharedSql;

std::string caseDate(const SeriesRecord& s)
{
  return !s.studyDate.empty() ? s.studyDate : s.acquisitionDate;
}

bool modalityMatches(const std::string& wanted, Modality m)
{
  if (wanted.empty())
    return true;
  if (wanted == "MRI")
    return m == Modality::Mri || m == Modality::MriT1w || m == Modality::MriT2w;
  return to_string(m) == wanted;
}

std::string csvField(std::string s)
{
  for (char& c : s)
    if (c == ',' || c == '\n' || c == '\r')
      c = ' ';
  return s;
}

std::string describe(const CaseSelection& s)
{
  std::string out;
  auto add = [&](const std::string& k, const std::string& v)
  {
    if (!v.empty())
      out += (out.empty() ? "" : ", ") + k + " " + v;
  };
  add("modality", s.modality);
  add("center", s.center);
  add("from", s.fromDate);
  add("to", s.toDate);
  return out.empty() ? "no filter" : out;
}
} // namespace

std::string normalizeModality(const std::string& modality)
{
  const auto m = parseModality(modality);
  if (!m || *m == Modality::Other)
    throw Error("unknown modality '" + modality + "' (use CT, MR, MRI-T1W or MRI-T2W)");
  return to_string(*m);
}

std::vector<TrainingCase> selectApprovedCases(const StudyDatabase& db,
                                              const CaseSelection& selection)
{
  const std::string modality =
      selection.modality.empty() ? std::string() : normalizeModality(selection.modality);
  std::vector<TrainingCase> out;
  int approvedAnywhere = 0;
  for (const SeriesRecord& s : db.listSeries())
  {
    const std::vector<MaskVersion> versions = db.masksOf(s.id);
    const MaskVersion* newest = nullptr;
    for (const MaskVersion& v : versions)
      if (v.state == MaskState::Approved)
        newest = &v;
    if (!newest)
      continue;
    ++approvedAnywhere;
    const std::string date = caseDate(s);
    if (!modalityMatches(modality, s.modality) ||
        (!selection.center.empty() && s.center != selection.center))
      continue;
    if ((!selection.fromDate.empty() && (date.empty() || date < selection.fromDate)) ||
        (!selection.toDate.empty() && (date.empty() || date > selection.toDate)))
      continue;
    TrainingCase c;
    c.seriesId = s.id;
    c.maskVersionId = newest->id;
    c.caseId = "series" + std::to_string(s.id);
    c.patientKey = s.patientKey.empty() ? c.caseId : s.patientKey;
    c.modality = to_string(s.modality);
    c.center = s.center;
    c.date = date;
    out.push_back(std::move(c));
  }
  if (out.empty())
    throw Error(
        "no approved cases to train on (" + describe(selection) + "; " +
        std::to_string(approvedAnywhere) + " series have an approved mask in " + db.dataFolder() +
        "): approve masks first (panseg db set-state MASK_ID approved) or widen the filter");
  return out;
}

void exportTrainingCases(const StudyDatabase& db, const std::vector<TrainingCase>& cases,
                         const std::string& dir)
{
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw Error("cannot create folder " + dir + ": " + ec.message());
  std::string patients = "case,patient\n";
  std::string table = "case,series_id,mask_version_id,patient,modality,center,date\n";
  for (const TrainingCase& c : cases)
  {
    const LabelMask mask = db.loadMask(c.maskVersionId);
    Image image;
    try
    {
      image = db.loadImage(c.seriesId, true);
    }
    catch (const Error&)
    {
      // Say "grid mismatch" when that is what changed; otherwise the database's own message.
      const Image unchecked = db.loadImage(c.seriesId, false);
      std::string why;
      if (!mask.geometry.sameGrid(unchecked.geometry, &why))
        throw Error(
            "case " + c.caseId + ": approved mask version " + std::to_string(c.maskVersionId) +
            " does not lie on the grid of series " + std::to_string(c.seriesId) + "'s image (" +
            why +
            "); the image file was replaced after approval - re-import it or exclude the case");
      throw;
    }
    std::string why;
    if (!mask.geometry.sameGrid(image.geometry, &why))
      throw Error("case " + c.caseId + ": approved mask version " +
                  std::to_string(c.maskVersionId) + " does not lie on the grid of series " +
                  std::to_string(c.seriesId) + "'s image (" + why + ")");
    writeImage(image, (fs::path(dir) / (c.caseId + ".nii.gz")).string());
    writeMask(mask, (fs::path(dir) / (c.caseId + "_seg.nii.gz")).string());
    patients += c.caseId + "," + csvField(c.patientKey) + "\n";
    table += c.caseId + "," + std::to_string(c.seriesId) + "," + std::to_string(c.maskVersionId) +
             "," + csvField(c.patientKey) + "," + c.modality + "," + csvField(c.center) + "," +
             c.date + "\n";
  }
  writeFileAtomically((fs::path(dir) / "patients.csv").string(), patients);
  writeFileAtomically((fs::path(dir) / "cases.csv").string(), table);
}

std::string jobFolder(const StudyDatabase& db, int64_t jobId)
{
  if (db.isServer())
  {
    // A server holds no files: a job's data, checkpoints and logs stay on the workstation that
    // runs it, in a folder per server database (host, port and name, without user or password).
    const QUrl url(QString::fromStdString(db.dataFolder()));
    QString key = url.host() + "_" + QString::number(url.port(5432)) + "_" + url.path().mid(1);
    key.replace(QRegularExpression("[^A-Za-z0-9._-]"), "_");
    const QString base = qEnvironmentVariableIsSet("PANSEG_JOBS_DIR")
                             ? qEnvironmentVariable("PANSEG_JOBS_DIR")
                             : QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) +
                                   "/panseg/server-jobs";
    return (fs::path(base.toStdString()) / key.toStdString() / std::to_string(jobId)).lexically_normal().string();
  }
  return (fs::path(db.dataFolder()) / "files" / "jobs" / std::to_string(jobId))
      .lexically_normal()
      .string();
}

std::string modelPackageDir(const StudyDatabase& db, int64_t modelVersionId)
{
  for (const ModelVersion& m : db.modelVersions())
    if (m.id == modelVersionId)
    {
      if (m.files.empty())
        throw Error("model version " + std::to_string(modelVersionId) +
                    " has no files in the registry");
      return fs::path(m.files.front().path).parent_path().string();
    }
  throw Error("no model version " + std::to_string(modelVersionId) +
              " in the registry (see panseg db models)");
}

int64_t resolveModel(StudyDatabase& db, const std::string& modelArg, std::string* packageDir)
{
  bool number = !modelArg.empty();
  for (const char c : modelArg)
    number = number && c >= '0' && c <= '9';
  if (number && !fs::exists(modelArg))
  {
    const int64_t id = std::stoll(modelArg);
    const std::string dir = modelPackageDir(db, id);
    if (packageDir)
      *packageDir = dir;
    return id;
  }
  const int64_t id = registerModelPackage(db, modelArg);
  if (packageDir)
    *packageDir = readModelPackageInfo(modelArg).dir;
  return id;
}

// ---- progress -------------------------------------------------------------------------------
std::optional<TrainerEvent> parseTrainerEvent(const std::string& line)
{
  QJsonParseError err;
  const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(line), &err);
  if (err.error != QJsonParseError::NoError || !doc.isObject())
    return std::nullopt;
  const QJsonObject o = doc.object();
  if (!o.value("event").isString())
    return std::nullopt;
  TrainerEvent e;
  e.event = o.value("event").toString().toStdString();
  e.epoch = o.value("epoch").toInt();
  e.epochs = o.value("epochs").toInt();
  e.iteration = o.value("iteration").toInt();
  e.iterations = o.value("iterations").toInt();
  auto num = [&](const char* k) { return o.value(k).isDouble() ? o.value(k).toDouble() : -1.0; };
  e.loss = num("loss");
  e.valDice = num("val_dice");
  e.lr = num("lr");
  e.elapsedS = num("elapsed_s");
  e.etaS = num("eta_s");
  e.device = o.value("device").toString().toStdString();
  e.message = o.value("message").toString().toStdString();
  return e;
}

double trainerFraction(const TrainerEvent& e)
{
  if (e.event == "finished")
    return 1.0;
  if (e.epochs <= 0)
    return 0.0;
  double done = e.epoch;
  if (e.event == "epoch")
    done = e.epoch + 1; // the epoch event reports the epoch just completed (0-based)
  else if (e.iterations > 0)
    done += double(e.iteration) / e.iterations;
  return std::clamp(done / e.epochs, 0.0, 1.0);
}

std::string trainerSummary(const TrainerEvent& e)
{
  char buf[256];
  std::string s;
  if (e.event == "preparing")
    return "preparing: " + e.message;
  const int shownEpoch =
      e.event == "epoch" ? e.epoch + 1 : std::min(e.epoch + 1, std::max(e.epochs, 1));
  std::snprintf(buf, sizeof buf, "epoch %d/%d", shownEpoch, e.epochs);
  s = buf;
  if (e.event == "training" && e.iterations > 0)
    s += ", iteration " + std::to_string(e.iteration) + "/" + std::to_string(e.iterations);
  if (e.event == "validating")
    s += ", validating";
  if (e.loss >= 0)
  {
    std::snprintf(buf, sizeof buf, ", loss %.4f", e.loss);
    s += buf;
  }
  if (e.valDice >= 0)
  {
    std::snprintf(buf, sizeof buf, ", val Dice %.3f", e.valDice);
    s += buf;
  }
  if (e.etaS >= 0 && e.event != "finished")
  {
    std::snprintf(buf, sizeof buf, ", ETA %.0f s", e.etaS);
    s += buf;
  }
  if (!e.device.empty())
    s += ", " + e.device;
  return s;
}

void recordTrainerEvent(StudyDatabase& db, int64_t jobId, const TrainerEvent& e,
                        const std::string& rawLine)
{
  {
    std::ofstream log(fs::path(jobFolder(db, jobId)) / "progress.jsonl", std::ios::app);
    log << rawLine << "\n";
  }
  static std::mutex mutex;
  static std::map<int64_t, std::chrono::steady_clock::time_point> lastWrite;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = lastWrite.find(jobId);
    if (e.event == "training" && it != lastWrite.end() &&
        std::chrono::duration<double>(now - it->second).count() < 2.0)
      return;
    lastWrite[jobId] = now;
  }
  db.updateJob(jobId, JobState::Running, trainerFraction(e), trainerSummary(e));
}

int64_t jobProcessId(const StudyDatabase& db, int64_t jobId)
{
  std::ifstream in(fs::path(jobFolder(db, jobId)) / "pid");
  long long pid = 0;
  if (!(in >> pid) || pid <= 0)
    return 0;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 ? pid : 0;
}

bool requestJobCancel(const StudyDatabase& db, int64_t jobId, std::string* why)
{
  const int64_t pid = jobProcessId(db, jobId);
  if (pid <= 0)
  {
    if (why)
      *why = "job " + std::to_string(jobId) +
             " has no running process (it finished, or was started on another "
             "computer or by a process that was killed)";
    return false;
  }
  if (::kill(static_cast<pid_t>(pid), SIGTERM) != 0)
  {
    if (why)
      *why = "cannot signal process " + std::to_string(pid) + " of job " + std::to_string(jobId) +
             ": " + std::strerror(errno);
    return false;
  }
  return true;
}

// ---- registry --------------------------------------------------------------------------------
int64_t registerTrainedModel(StudyDatabase& db, const std::string& packageDir,
                             int64_t baseModelVersionId, const std::string& lineageJson)
{
  const std::string modelJson = (fs::path(packageDir) / "model.json").string();
  QFile f(qs(modelJson));
  if (!f.open(QIODevice::ReadOnly))
    throw Error("cannot read " + modelJson + ": " + f.errorString().toStdString());
  QJsonObject card = QJsonDocument::fromJson(f.readAll()).object();
  f.close();
  const QJsonObject extra =
      QJsonDocument::fromJson(QByteArray::fromStdString(lineageJson)).object();
  if (!extra.isEmpty())
  {
    QJsonObject lineage = card.value("lineage").toObject();
    for (auto it = extra.begin(); it != extra.end(); ++it)
      lineage.insert(it.key(), it.value());
    card.insert("lineage", lineage);
    writeFileAtomically(modelJson,
                        QJsonDocument(card).toJson(QJsonDocument::Indented).toStdString());
  }
  const ModelPackageInfo info = readModelPackageInfo(packageDir);
  auto weightsOf = [](const std::vector<ModelFile>& files)
  {
    for (const auto& file : files)
      if (fs::path(file.path).filename() == "weights.bin")
        return file.sha256;
    return std::string();
  };
  for (const ModelVersion& m : db.modelVersions())
  {
    if (m.modelId != info.modelId || m.version != info.version)
      continue;
    if (weightsOf(m.files) == weightsOf(info.files))
      return m.id;
    throw Error(
        "model '" + info.modelId + "' version '" + info.version +
        "' is already registered with other weights; give the trained package its own version");
  }
  if (baseModelVersionId > 0)
    modelPackageDir(db, baseModelVersionId); // throws for an unknown base
  ModelVersion mv;
  mv.modelId = info.modelId;
  mv.version = info.version;
  mv.parentId = baseModelVersionId;
  mv.files = info.files;
  mv.description = info.name + (info.demo ? " [demo, not for clinical use]" : "") +
                   (info.modality.empty() ? "" : " (" + info.modality + ")");
  return db.registerModelVersion(mv);
}

void promoteModel(StudyDatabase& db, int64_t modelVersionId, const std::string& modalityIn)
{
  // The default model changes every user's predictions: coordinators and admins only.
  if (const User& me = db.currentUser(); !canCoordinate(me.role))
    throw Error("only a coordinator or an admin may promote a model (user " + me.username + " is a " +
                to_string(me.role) + ")");
  const std::string modality = normalizeModality(modalityIn);
  std::string label;
  for (const ModelVersion& m : db.modelVersions())
    if (m.id == modelVersionId)
      label = m.modelId + " " + m.version;
  if (label.empty())
    throw Error("no model version " + std::to_string(modelVersionId) +
                " in the registry (see panseg db models)");
  const Sql sql(db);
  const std::string what = "promote model version " + std::to_string(modelVersionId);
  sql.beginWrite(what);
  try
  {
    QSqlQuery q = sql.exec("SELECT model_version_id FROM model_defaults WHERE modality = ?",
                           {qs(modality)}, what);
    const QVariant previous = q.next() ? q.value(0) : QVariant();
    const QString now = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
    const User& u = db.currentUser();
    const QVariant userId =
        u.id > 0 ? QVariant(qlonglong(u.id)) : QVariant(QMetaType::fromType<qlonglong>());
    sql.exec("INSERT INTO model_defaults (modality, model_version_id, promoted_by, promoted_at)"
             " VALUES (?, ?, ?, ?) ON CONFLICT (modality) DO UPDATE SET"
             " model_version_id = excluded.model_version_id, promoted_by = excluded.promoted_by,"
             " promoted_at = excluded.promoted_at",
             {qs(modality), qlonglong(modelVersionId), userId, now}, what);
    QJsonObject details{{"modality", qs(modality)}, {"model", qs(label)}};
    details.insert("previous_model_version_id",
                   previous.isValid() ? QJsonValue(previous.toLongLong()) : QJsonValue());
    db.appendAudit("promote-model", "model_versions", modelVersionId,
                   QJsonDocument(details).toJson(QJsonDocument::Compact).toStdString(), now.toStdString());
    sql.exec("COMMIT", {}, what);
  }
  catch (...)
  {
    sql.rollback();
    throw;
  }
}

std::optional<int64_t> defaultModelFor(const StudyDatabase& db, const std::string& modality)
{
  const Sql sql(db);
  QSqlQuery q = sql.exec("SELECT model_version_id FROM model_defaults WHERE modality = ?",
                         {qs(normalizeModality(modality))}, "read the default model");
  if (q.next())
    return q.value(0).toLongLong();
  return std::nullopt;
}

std::optional<std::string> promotedModelDir(const StudyDatabase& db, const std::string& modalityIn,
                                            std::string* label)
{
  const std::string modality = normalizeModality(modalityIn);
  std::optional<int64_t> id = defaultModelFor(db, modality);
  if (!id && modality.rfind("MRI-", 0) == 0)
    id = defaultModelFor(db, "MRI");
  if (!id)
    return std::nullopt;
  for (const ModelVersion& m : db.modelVersions())
  {
    if (m.id != *id)
      continue;
    const std::string what = "promoted model " + m.modelId + " version " + m.version +
                             " was moved or changed: ";
    const ModelFile* weights = nullptr;
    for (const ModelFile& f : m.files)
      if (fs::path(f.path).filename() == "weights.bin")
        weights = &f;
    if (!weights)
      throw Error(what + "the registry lists no weights.bin (registry id " + std::to_string(m.id) +
                  ")");
    std::error_code ec;
    if (!fs::is_regular_file(weights->path, ec))
      throw Error(what + weights->path + " does not exist; promote another model (panseg model "
                         "promote ID --modality " + modality + ") or pass --model");
    if (sha256OfFile(weights->path) != weights->sha256)
      throw Error(what + weights->path + " no longer has the registered SHA-256; promote another "
                         "model (panseg model promote ID --modality " + modality + ") or pass --model");
    if (label)
      *label = m.modelId + " " + m.version + " (registry id " + std::to_string(m.id) + ")";
    return fs::path(weights->path).parent_path().string();
  }
  throw Error("the default " + modality + " model (registry id " + std::to_string(*id) +
              ") is not in the registry");
}
} // namespace panseg::db
