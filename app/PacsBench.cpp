// `panseg bench pacs`: retrieving an N-slice CT (the demo phantom written as DICOM) from a private
// Orthanc into the study database over WADO-RS and C-GET, next to the raw transfers (curl on the
// same WADO-RS URL, DCMTK's getscu) and a plain import of the same files, in the same run.
#include "BenchSummary.h"
#include "Cli.h"
#include "PacsCommands.h"

#include "core/Error.h"
#include "core/demo/PhantomGenerator.h"
#include "core/pacs/DicomSeriesWriter.h"
#include "core/pacs/PacsClient.h"
#include "database/Importer.h"
#include "database/StudyDatabase.h"
#include "database/pacs/PacsService.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace panseg::cli
{
namespace
{
constexpr const char* kOrthanc = "/usr/sbin/Orthanc";
constexpr const char* kDicomWebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";
constexpr const char* kAet = "BENCHPACS";
constexpr const char* kOurAet = "PANSEGBENCH";

int freePort()
{
  QTcpServer s;
  s.listen(QHostAddress::LocalHost, 0);
  return s.serverPort();
}

/// A private Orthanc on free loopback ports, stopped by the destructor.
struct BenchOrthanc
{
  QTemporaryDir tmp;
  QProcess process;
  int httpPort = 0, dicomPort = 0;
  QString password = "bench-pw";

  void start()
  {
    httpPort = freePort();
    dicomPort = freePort();
    QDir().mkpath(tmp.path() + "/storage");
    const QJsonObject config{ { "Name", "PanSegBench" },
                              { "StorageDirectory", tmp.path() + "/storage" },
                              { "IndexDirectory", tmp.path() + "/storage" },
                              { "HttpPort", httpPort },
                              { "DicomPort", dicomPort },
                              { "DicomAet", kAet },
                              { "RemoteAccessAllowed", false },
                              { "AuthenticationEnabled", true },
                              { "RegisteredUsers", QJsonObject{ { "bench", password } } },
                              { "DicomModalities", QJsonObject{ { "bench", QJsonArray{ kOurAet, "127.0.0.1", 11112 } } } },
                              { "Plugins", QJsonArray{ kDicomWebPlugin } },
                              { "DicomWeb", QJsonObject{ { "Enable", true }, { "Root", "/dicom-web/" } } },
                              { "StorageCompression", false },
                              { "HttpCompressionEnabled", false } };
    QFile f(tmp.path() + "/orthanc.json");
    if (!f.open(QIODevice::WriteOnly))
      throw Error("cannot write the benchmark's Orthanc configuration");
    f.write(QJsonDocument(config).toJson());
    f.close();
    process.setProcessChannelMode(QProcess::MergedChannels);
    process.setStandardOutputFile(tmp.path() + "/orthanc.log");
    process.start(kOrthanc, { f.fileName() });
    if (!process.waitForStarted(10000))
      throw Error("cannot start Orthanc: " + process.errorString().toStdString());
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < 30000)
    {
      QTcpSocket s;
      s.connectToHost(QHostAddress::LocalHost, quint16(httpPort));
      if (s.waitForConnected(200))
        return;
      if (process.state() != QProcess::Running)
        break;
      QThread::msleep(100);
    }
    throw Error("Orthanc did not start for the benchmark (see " + tmp.path().toStdString() + "/orthanc.log)");
  }
  ~BenchOrthanc()
  {
    if (process.state() == QProcess::Running)
    {
      process.terminate();
      if (!process.waitForFinished(15000))
        process.kill();
      process.waitForFinished(5000);
    }
  }
};

} // namespace

int benchPacs(const QStringList& args)
{
  Args a(args, {});
  bool ok1 = true, ok2 = true;
  const int slices = a.intValue("slices", 300, &ok1);
  const int reps = a.intValue("reps", 1, &ok2);
  if (!a.error.isEmpty() || !a.positionals.isEmpty() || !ok1 || !ok2 || slices < 16 || slices > 1024 || reps < 1 ||
      reps > 20)
  {
    printError("usage: panseg bench pacs [--slices 16..1024 (300)] [--reps 1..20 (1)]");
    return Usage;
  }
  for (const QString& k : a.keys())
    if (k != "slices" && k != "reps")
    {
      printError("unknown option --" + k + "; usage: panseg bench pacs [--slices N] [--reps N]");
      return Usage;
    }
  if (!QFileInfo(kOrthanc).isExecutable() || !QFileInfo::exists(kDicomWebPlugin))
    throw Error("panseg bench pacs needs Orthanc and its DICOMweb plugin (installer/setup.sh installs orthanc "
                "orthanc-dicomweb)");
  ensureHeadlessApplication(false);
  QTemporaryDir tmp;
  const QString seriesDir = tmp.filePath("series");

  // 1. The demo phantom as a 512 x 512 x N CT series.
  QElapsedTimer t;
  t.start();
  demo::PhantomOptions po;
  po.size = { 512, 512, slices };
  po.spacingMm = { 0.7, 0.7, std::max(0.6, 240.0 / slices) };
  po.generateMr = false;
  const demo::Phantom phantom = demo::generatePhantom(po);
  const pacs::WrittenSeries written = pacs::writeDicomSeries(phantom.ct, seriesDir);
  std::printf("series: demo phantom CT 512x512x%d, %d files, %.1f MB (generated and written in %.1f s)\n", slices,
              written.files, written.bytes / 1e6, t.elapsed() / 1000.0);

  // 2. A private Orthanc holding it.
  BenchOrthanc orthanc;
  orthanc.start();
  const QString secret = tmp.filePath("secret");
  {
    QFile f(secret);
    f.open(QIODevice::WriteOnly);
    f.write(orthanc.password.toUtf8());
  }
  pacs::PacsProfile web;
  web.name = "bench-web";
  web.url = QString("http://127.0.0.1:%1/dicom-web").arg(orthanc.httpPort);
  web.auth = pacs::AuthKind::Basic;
  web.username = "bench";
  web.secretFile = secret;
  web.timeoutMs = 60000;
  pacs::PacsProfile dimse;
  dimse.name = "bench-dimse";
  dimse.protocol = pacs::Protocol::Dimse;
  dimse.host = "127.0.0.1";
  dimse.port = orthanc.dicomPort;
  dimse.calledAet = kAet;
  dimse.callingAet = kOurAet;
  dimse.timeoutMs = 60000;
  {
    auto client = pacs::makeClient(web);
    QStringList files;
    for (const QFileInfo& fi : QDir(seriesDir).entryInfoList(QDir::Files, QDir::Name))
      files << fi.absoluteFilePath();
    t.restart();
    for (int i = 0; i < files.size(); i += 50)
      client->store(files.mid(i, 50));
    std::printf("stored in Orthanc over STOW-RS in %.1f s\n", t.elapsed() / 1000.0);
  }
  const QString url = web.url + "/studies/" + written.studyUid + "/series/" + written.seriesUid;

  std::vector<double> curlS, getscuS, importS, wadoS, cgetS, wadoTransferS, cgetTransferS;
  qint64 curlBytes = 0;
  const QString curl = QStandardPaths::findExecutable("curl");
  const QString getscu = QStandardPaths::findExecutable("getscu");
  for (int rep = 0; rep < reps; ++rep)
  {
    // Raw transfers: curl on the same WADO-RS URL, getscu into a folder.
    if (!curl.isEmpty())
    {
      QProcess p;
      t.restart();
      p.start(curl, { "-s", "-f", "-u", "bench:" + orthanc.password, "-H", "Accept: multipart/related; type=\"application/dicom\"",
                      "-o", "/dev/null", "-w", "%{size_download}", url });
      p.waitForFinished(-1);
      curlS.push_back(t.elapsed() / 1000.0);
      curlBytes = p.readAllStandardOutput().trimmed().toLongLong();
      if (p.exitCode() != 0)
        throw Error("curl failed on " + url.toStdString());
    }
    if (!getscu.isEmpty())
    {
      const QString out = tmp.filePath(QString("getscu-%1").arg(rep));
      QDir().mkpath(out);
      QProcess p;
      t.restart();
      p.start(getscu, { "-aet", kOurAet, "-aec", kAet, "-S", "-k", "QueryRetrieveLevel=SERIES", "-k",
                        "StudyInstanceUID=" + written.studyUid, "-k", "SeriesInstanceUID=" + written.seriesUid, "-od",
                        out, "127.0.0.1", QString::number(orthanc.dicomPort) });
      p.waitForFinished(-1);
      getscuS.push_back(t.elapsed() / 1000.0);
      const int got = int(QDir(out).entryList(QDir::Files).size());
      if (got != written.files)
        throw Error("getscu retrieved " + std::to_string(got) + " of " + std::to_string(written.files) + " files: " +
                    p.readAllStandardError().toStdString());
    }
    // A plain import of the same files.
    {
      QTemporaryDir dbDir;
      db::StudyDatabase database(dbDir.path().toStdString());
      t.restart();
      const db::ImportReport r = db::importPath(database, seriesDir.toStdString());
      importS.push_back(t.elapsed() / 1000.0);
      if (r.importedSeries.size() != 1)
        throw Error("the plain import of the benchmark series failed");
    }
    // PanSeg: retrieve into the database over WADO-RS and C-GET.
    for (const pacs::PacsProfile* p : { &web, &dimse })
    {
      QTemporaryDir dbDir;
      db::StudyDatabase database(dbDir.path().toStdString());
      auto client = pacs::makeClient(*p);
      db::PacsRetrieveOptions ro;
      ro.studyUid = written.studyUid;
      t.restart();
      const db::PacsRetrieveResult r = db::retrieveSeries(database, *client, written.seriesUid, ro);
      (p == &web ? wadoS : cgetS).push_back(t.elapsed() / 1000.0);
      (p == &web ? wadoTransferS : cgetTransferS).push_back(r.transferSeconds);
      if (r.files != written.files || r.seriesId <= 0)
        throw Error("the benchmark retrieve got " + std::to_string(r.files) + " files");
    }
  }
  const double mb = written.bytes / 1e6;
  const double imp = benchMedian(importS), wado = benchMedian(wadoS), cget = benchMedian(cgetS);
  std::printf("\nmedian of %d run(s), %.1f MB of DICOM\n", reps, mb);
  std::printf("  %-44s %7.2f s\n", "plain import of the files (panseg import)", imp);
  if (!curlS.empty())
    std::printf("  %-44s %7.2f s  %6.1f MB/s (%.1f MB multipart)\n", "curl, WADO-RS bytes to /dev/null", benchMedian(curlS),
                curlBytes / 1e6 / std::max(1e-9, benchMedian(curlS)), curlBytes / 1e6);
  if (!getscuS.empty())
    std::printf("  %-44s %7.2f s  %6.1f MB/s\n", "DCMTK getscu, C-GET to a folder", benchMedian(getscuS),
                mb / std::max(1e-9, benchMedian(getscuS)));
  std::printf("  %-44s %7.2f s  %6.1f MB/s (transfer to disk %.2f s)\n", "panseg WADO-RS retrieve into the database",
              wado, mb / std::max(1e-9, wado), benchMedian(wadoTransferS));
  std::printf("  %-44s %7.2f s  %6.1f MB/s (transfer to disk %.2f s)\n", "panseg C-GET retrieve into the database", cget,
              mb / std::max(1e-9, cget), benchMedian(cgetTransferS));
  if (!curlS.empty())
    std::printf("  WADO-RS: %.2fx (curl + plain import = %.2f s; target <= 1.3x)\n", wado / (benchMedian(curlS) + imp),
                benchMedian(curlS) + imp);
  if (!getscuS.empty())
    std::printf("  C-GET:   %.2fx (getscu + plain import = %.2f s; target <= 1.3x)\n", cget / (benchMedian(getscuS) + imp),
                benchMedian(getscuS) + imp);
  return Ok;
}
} // namespace panseg::cli
