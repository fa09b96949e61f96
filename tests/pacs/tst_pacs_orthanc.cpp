// PACS against a real Orthanc (tests/pacs/OrthancTestServer.h) loaded with two real series from
// ../shared/data (dcmqi's liver CT, highdicom's head CT): verification, query by each filter over
// QIDO-RS and C-FIND, retrieve over WADO-RS and C-GET into a study database (voxels and geometry
// equal a direct import of the same files), SEG round trip over STOW-RS and C-STORE, refused
// credentials, a rejected AE title, a server that is down, cancel and non-image series leaving
// nothing behind, and the `panseg pacs` command line.
#include "../ProcessRun.h"
#include "../SharedData.h"
#include "OrthancTestServer.h"

#include "core/demo/PhantomGenerator.h"
#include "core/io/DicomSeg.h"
#include "core/io/ImageIO.h"
#include "core/pacs/DicomSeriesWriter.h"
#include "core/pacs/PacsClient.h"
#include "core/pacs/PacsProfile.h"
#include "database/Importer.h"
#include "database/StudyDatabase.h"
#include "database/pacs/PacsService.h"

#include <QDir>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>

using namespace panseg;
using namespace panseg::pacs;

namespace
{
const char* kLiverCt = "data/dcmqi/ct-3slice";
const char* kHeadCt = "data/highdicom/source_CT2";
const char* kLiverMask = "data/dcmqi/liver_seg.nrrd";

QStringList filesOf(const QString& folder)
{
  QStringList out;
  for (const QFileInfo& fi : QDir(folder).entryInfoList(QDir::Files, QDir::Name))
    out << fi.absoluteFilePath();
  return out;
}

QStringList sorted(QStringList l)
{
  l.sort();
  return l;
}

QStringList entriesOf(const QString& folder)
{
  return QDir(folder).entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden);
}
/// `panseg listen` as a child process; waits for its first line.
struct Listener
{
  QProcess p;
  QString out;
  bool start(const QStringList& args)
  {
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(PANSEG_EXE, QStringList{ "listen" } + args);
    return waitFor("listening as");
  }
  bool waitFor(const QString& text, int timeoutMs = 30000)
  {
    QElapsedTimer t;
    t.start();
    while (!out.contains(text) && t.elapsed() < timeoutMs && p.state() != QProcess::NotRunning)
    {
      p.waitForReadyRead(200);
      out += QString::fromUtf8(p.readAll());
    }
    out += QString::fromUtf8(p.readAll());
    return out.contains(text);
  }
  void stop()
  {
    p.terminate();
    p.waitForFinished(10000);
    out += QString::fromUtf8(p.readAll());
  }
  ~Listener()
  {
    if (p.state() != QProcess::NotRunning)
    {
      p.kill();
      p.waitForFinished(5000);
    }
  }
};

} // namespace

class TestPacsOrthanc : public QObject
{
  Q_OBJECT

  test::OrthancTestServer m_orthanc;
  QTemporaryDir m_tmp;
  QString m_secret;
  // Facts about the two studies, read from Orthanc's own REST API (not from PanSeg).
  struct StudyFacts
  {
    QString patientName, patientId, date, accession, studyUid, seriesUid;
    QString orthancSeriesId; // Orthanc's own identifier (REST API)
    int instances = 0;
  };
  StudyFacts m_liver, m_head;

  PacsProfile web(const QString& password = {}) const
  {
    PacsProfile p;
    p.name = "orthanc-web";
    p.url = m_orthanc.dicomWebUrl();
    p.auth = AuthKind::Basic;
    p.username = test::OrthancTestServer::kUser;
    p.secretFile = password.isEmpty() ? m_secret : m_orthanc.passwordFile(password);
    return p;
  }
  PacsProfile dimse(const QString& calledAet = test::OrthancTestServer::kAet) const
  {
    PacsProfile p;
    p.name = "orthanc-dimse";
    p.protocol = Protocol::Dimse;
    p.host = "127.0.0.1";
    p.port = m_orthanc.dicomPort();
    p.calledAet = calledAet;
    p.callingAet = test::OrthancTestServer::kOurAet;
    return p;
  }
  PacsProfile move() const
  {
    PacsProfile p = dimse();
    p.name = "orthanc-move";
    p.useMove = true;
    p.storagePort = m_storagePort;
    return p;
  }
  PacsProfile byName(const QString& protocol) const
  {
    return protocol == "move" ? move() : protocol == "dimse" ? dimse() : web();
  }
  int m_storagePort = 0;

  StudyFacts factsOf(const QString& patientName)
  {
    int status = 0;
    const QJsonArray studies = QJsonDocument::fromJson(m_orthanc.get("/studies?expand", &status)).array();
    for (const QJsonValue& v : studies)
    {
      const QJsonObject s = v.toObject();
      const QJsonObject patient = s.value("PatientMainDicomTags").toObject();
      if (patient.value("PatientName").toString() != patientName)
        continue;
      StudyFacts f;
      f.patientName = patientName;
      f.patientId = patient.value("PatientID").toString();
      const QJsonObject tags = s.value("MainDicomTags").toObject();
      f.date = tags.value("StudyDate").toString();
      f.accession = tags.value("AccessionNumber").toString();
      f.studyUid = tags.value("StudyInstanceUID").toString();
      const QString seriesId = s.value("Series").toArray().first().toString();
      const QJsonObject series = QJsonDocument::fromJson(m_orthanc.get("/series/" + seriesId, &status)).object();
      f.seriesUid = series.value("MainDicomTags").toObject().value("SeriesInstanceUID").toString();
      f.orthancSeriesId = seriesId;
      f.instances = int(series.value("Instances").toArray().size());
      return f;
    }
    return {};
  }

  static QStringList patientsOf(const std::vector<PacsRecord>& records)
  {
    QStringList out;
    for (const auto& r : records)
      out << r.patientName;
    out.sort();
    return out;
  }

private slots:
  void initTestCase()
  {
    const QString why = test::OrthancTestServer::unavailableReason();
    if (!why.isEmpty())
      QSKIP(qPrintable(why));
    PANSEG_REQUIRE_SHARED(kLiverCt);
    PANSEG_REQUIRE_SHARED(kHeadCt);
    QString error;
    m_storagePort = test::OrthancTestServer::freePort(); // our C-MOVE destination, registered in Orthanc
    QVERIFY2(m_orthanc.start(&error, m_storagePort), qPrintable(error));
    QVERIFY2(m_orthanc.upload(filesOf(paths::shared(kLiverCt)) + filesOf(paths::shared(kHeadCt)), &error),
             qPrintable(error));
    m_secret = m_orthanc.passwordFile();
    int status = 0;
    const QJsonArray patients = QJsonDocument::fromJson(m_orthanc.get("/studies?expand", &status)).array();
    QCOMPARE(patients.size(), 2);
    const QString liverName = patients[0].toObject().value("PatientMainDicomTags").toObject().value("PatientName").toString();
    const QString headName = patients[1].toObject().value("PatientMainDicomTags").toObject().value("PatientName").toString();
    m_liver = factsOf(liverName.startsWith("JAN") ? liverName : headName);
    m_head = factsOf(liverName.startsWith("JAN") ? headName : liverName);
    QCOMPARE(m_liver.instances, 3);
    QCOMPARE(m_head.instances, 4);
    QVERIFY(!m_liver.accession.isEmpty() && !m_liver.date.isEmpty() && m_liver.date != m_head.date);
    qputenv("PANSEG_PACS_CONFIG", QFile::encodeName(m_tmp.filePath("pacs.ini")));
    qputenv("PANSEG_USER", "radiologist");
  }

  void cleanupTestCase() { m_orthanc.stop(); }

  void echoAndClearErrors()
  {
    makeClient(web())->echo();
    makeClient(dimse())->echo();
    try
    {
      makeClient(web("not-the-password"))->echo();
      QFAIL("a wrong password was accepted");
    }
    catch (const Error& e)
    {
      QVERIFY2(QString(e.what()).contains("refused the credentials (HTTP 401"), e.what());
    }
    PacsProfile noAuth = web();
    noAuth.auth = AuthKind::None;
    QVERIFY_THROWS_EXCEPTION(Error, makeClient(noAuth)->find({}));
    try
    {
      makeClient(dimse("WRONGAET"))->echo();
      QFAIL("a wrong called AE title was accepted");
    }
    catch (const Error& e)
    {
      QVERIFY2(QString(e.what()).contains("rejected the association (called AE 'WRONGAET'"), e.what());
    }
    // Server down: nothing listens on the port.
    const int freePort = test::OrthancTestServer::freePort();
    PacsProfile down = web();
    down.url = QString("http://127.0.0.1:%1/dicom-web").arg(freePort);
    PacsProfile downDimse = dimse();
    downDimse.port = freePort;
    for (const PacsProfile& p : { down, downDimse })
    {
      QElapsedTimer t;
      t.start();
      try
      {
        makeClient(p)->echo();
        QFAIL("a server that is down answered");
      }
      catch (const Error& e)
      {
        QVERIFY2(QString(e.what()).contains("connection refused at 127.0.0.1"), e.what());
      }
      QVERIFY2(t.elapsed() < p.timeoutMs, qPrintable(QString("%1 ms").arg(t.elapsed())));
    }
  }

  void findByEachFilter_data()
  {
    QTest::addColumn<QString>("protocol");
    QTest::newRow("QIDO-RS") << "web";
    QTest::newRow("C-FIND") << "dimse";
  }
  void findByEachFilter()
  {
    QFETCH(QString, protocol);
    auto client = makeClient(byName(protocol));
    QueryFilter all;
    QCOMPARE(patientsOf(client->find(all)), sorted({ m_liver.patientName, m_head.patientName }));

    QueryFilter f;
    f.patientName = m_liver.patientName.left(3) + "*";
    auto r = client->find(f);
    QCOMPARE(patientsOf(r), QStringList{ m_liver.patientName });
    QCOMPARE(r[0].studyUid, m_liver.studyUid);
    QCOMPARE(r[0].instances, 3);

    f = {};
    f.patientId = m_head.patientId;
    QCOMPARE(patientsOf(client->find(f)), QStringList{ m_head.patientName });

    f = {};
    f.dateRange = m_liver.date + "-" + m_liver.date;
    QCOMPARE(patientsOf(client->find(f)), QStringList{ m_liver.patientName });
    f.dateRange = "-" + QString::number(std::min(m_liver.date.toInt(), m_head.date.toInt()));
    QCOMPARE(client->find(f).size(), size_t(1));

    f = {};
    f.accession = m_liver.accession;
    QCOMPARE(patientsOf(client->find(f)), QStringList{ m_liver.patientName });

    f = {};
    f.modality = "CT";
    QCOMPARE(client->find(f).size(), size_t(2));
    f.modality = "MR";
    QCOMPARE(client->find(f).size(), size_t(0));

    f = {};
    f.patientName = "NOBODY*";
    QCOMPARE(client->find(f).size(), size_t(0));

    // Series level, and paging.
    f = {};
    f.level = Level::Series;
    f.modality = "CT";
    r = client->find(f);
    QCOMPARE(r.size(), size_t(2));
    QStringList seriesUids{ r[0].seriesUid, r[1].seriesUid };
    seriesUids.sort();
    QCOMPARE(seriesUids, sorted({ m_liver.seriesUid, m_head.seriesUid }));
    f.limit = 1;
    const auto first = client->find(f);
    f.offset = 1;
    const auto second = client->find(f);
    QCOMPARE(first.size(), size_t(1));
    QCOMPARE(second.size(), size_t(1));
    QVERIFY(first[0].seriesUid != second[0].seriesUid);
    f = {};
    f.level = Level::Series;
    f.seriesUid = m_head.seriesUid;
    r = client->find(f);
    QCOMPARE(r.size(), size_t(1));
    QCOMPARE(r[0].instances, 4);
    QCOMPARE(r[0].studyUid, m_head.studyUid);
  }

  void retrieveEqualsDirectImport_data()
  {
    QTest::addColumn<QString>("protocol");
    QTest::newRow("WADO-RS") << "web";
    QTest::newRow("C-GET") << "dimse";
    QTest::newRow("C-MOVE") << "move";
  }
  void retrieveEqualsDirectImport()
  {
    QFETCH(QString, protocol);
    QTemporaryDir dbDir, directDir;
    db::StudyDatabase database(dbDir.path().toStdString());
    auto client = makeClient(byName(protocol));
    int progressCalls = 0;
    db::PacsRetrieveOptions o;
    o.progress = [&](const TransferProgress&) { ++progressCalls; };
    const db::PacsRetrieveResult r = db::retrieveSeries(database, *client, m_liver.seriesUid, o);
    QVERIFY(r.seriesId > 0);
    QVERIFY(!r.alreadyPresent);
    QCOMPARE(r.files, 3);
    QVERIFY(progressCalls > 0);
    QVERIFY2(QString::fromStdString(r.folder).startsWith(dbDir.path() + "/files/pacs/"), r.folder.c_str());
    const auto rec = database.series(r.seriesId);
    QVERIFY(rec);
    QCOMPARE(QString::fromStdString(rec->seriesInstanceUid), m_liver.seriesUid);
    QCOMPARE(QString::fromStdString(rec->studyInstanceUid), m_liver.studyUid);
    QCOMPARE(rec->fileCount, 3);

    // The same files imported directly: same voxels, same geometry.
    db::StudyDatabase direct(directDir.path().toStdString());
    const db::ImportReport ir = db::importPath(direct, paths::shared(kLiverCt).toStdString());
    QCOMPARE(ir.importedSeries.size(), size_t(1));
    const Image a = database.loadImage(r.seriesId);
    const Image b = direct.loadImage(ir.importedSeries[0]);
    QCOMPARE(a.geometry.size, b.geometry.size);
    for (int i = 0; i < 3; ++i)
    {
      QCOMPARE(a.geometry.spacingMm[i], b.geometry.spacingMm[i]);
      QCOMPARE(a.geometry.originMm[i], b.geometry.originMm[i]);
    }
    QVERIFY(a.geometry.direction == b.geometry.direction);
    QVERIFY(a.voxels == b.voxels);
    QCOMPARE(rec->contentHash, direct.series(ir.importedSeries[0])->contentHash);

    // A second retrieve recognises the series and fetches nothing.
    int calls = 0;
    o.progress = [&](const TransferProgress&) { ++calls; };
    const db::PacsRetrieveResult again = db::retrieveSeries(database, *client, m_liver.seriesUid, o);
    QVERIFY(again.alreadyPresent);
    QCOMPARE(again.seriesId, r.seriesId);
    QCOMPARE(calls, 0);
    QCOMPARE(database.listSeries().size(), size_t(1));
  }

  void cancelAndFailuresLeaveNothing_data()
  {
    QTest::addColumn<QString>("protocol");
    QTest::newRow("WADO-RS") << "web";
    QTest::newRow("C-GET") << "dimse";
    QTest::newRow("C-MOVE") << "move";
  }
  void cancelAndFailuresLeaveNothing()
  {
    QFETCH(QString, protocol);
    QTemporaryDir dbDir;
    db::StudyDatabase database(dbDir.path().toStdString());
    auto client = makeClient(byName(protocol));
    std::atomic<bool> cancel{ false };
    db::PacsRetrieveOptions o;
    o.cancel = &cancel;
    o.progress = [&](const TransferProgress&) { cancel = true; };
    QVERIFY_THROWS_EXCEPTION(Cancelled, db::retrieveSeries(database, *client, m_head.seriesUid, o));
    const QString store = QString::fromStdString(db::pacsStorageFolder(database));
    QVERIFY2(entriesOf(store).isEmpty(), qPrintable(entriesOf(store).join(", ")));
    QCOMPARE(database.listSeries().size(), size_t(0));

    try
    {
      db::retrieveSeries(database, *client, "1.2.3.4.5.6.7");
      QFAIL("an unknown series was retrieved");
    }
    catch (const Error& e)
    {
      QVERIFY2(QString(e.what()).contains("series 1.2.3.4.5.6.7 not found on PACS"), e.what());
    }
    QVERIFY(entriesOf(store).isEmpty());
    QVERIFY_THROWS_EXCEPTION(Error, db::retrieveSeries(database, *client, "../../etc"));

    // The head CT arrives whole but cannot be imported (its slice spacing is not uniform): one
    // clear line, and its files go.
    try
    {
      db::retrieveSeries(database, *client, m_head.seriesUid);
      QFAIL("a series with non-uniform slice spacing was imported");
    }
    catch (const Error& e)
    {
      QVERIFY2(QString(e.what()).contains("was retrieved but cannot be imported") &&
                 QString(e.what()).contains("non-uniform slice spacing"),
               e.what());
    }
    QVERIFY2(entriesOf(store).isEmpty(), qPrintable(entriesOf(store).join(", ")));
    QCOMPARE(database.listSeries().size(), size_t(0));

    // After all that, a retrieve works.
    const db::PacsRetrieveResult r = db::retrieveSeries(database, *client, m_liver.seriesUid);
    QCOMPARE(r.files, 3);
    QCOMPARE(database.listSeries().size(), size_t(1));
  }

  void segRoundTrip()
  {
    PANSEG_REQUIRE_SHARED(kLiverMask);
    QTemporaryDir dbDir;
    db::StudyDatabase database(dbDir.path().toStdString());
    auto webClient = makeClient(web());
    const db::PacsRetrieveResult r = db::retrieveSeries(database, *webClient, m_liver.seriesUid);
    const Image image = database.loadImage(r.seriesId);
    const LabelMask mask = readMaskFor(paths::shared(kLiverMask).toStdString(), image.geometry);
    QVERIFY(mask.countLabel(1) > 0);
    const int64_t version = database.saveMaskVersion(r.seriesId, mask, db::MaskProvenance{});

    auto segSeries = [&]() {
      QueryFilter f;
      f.level = Level::Series;
      f.studyUid = m_liver.studyUid;
      f.modality = "SEG";
      return webClient->find(f);
    };
    QCOMPARE(segSeries().size(), size_t(0));
    const db::PacsSendResult sent = db::sendMaskVersion(database, *webClient, version); // STOW-RS
    QVERIFY(!sent.sopInstanceUid.empty());
    auto segs = segSeries();
    QCOMPARE(segs.size(), size_t(1));
    QCOMPARE(segs[0].instances, 1);

    // Fetch it back (WADO-RS) and import it onto the series' grid: the same mask.
    QTemporaryDir back;
    const RetrieveResult got = webClient->retrieveSeries(m_liver.studyUid, segs[0].seriesUid, back.path());
    QCOMPARE(got.files.size(), 1);
    const SegImportResult seg = importDicomSeg(got.files[0].toStdString(), image.geometry);
    QCOMPARE(seg.mask.geometry.size, image.geometry.size);
    QVERIFY(seg.mask.voxels == mask.voxels);

    // The same over C-STORE, fetched back over C-GET.
    auto dimseClient = makeClient(dimse());
    db::sendMaskVersion(database, *dimseClient, version);
    segs = segSeries();
    int instances = 0;
    for (const auto& s : segs)
      instances += s.instances;
    QCOMPARE(instances, 2);
    QTemporaryDir back2;
    QString dimseSeg;
    for (const auto& s : segs)
    {
      const RetrieveResult g = dimseClient->retrieveSeries(s.studyUid, s.seriesUid, back2.path());
      for (const QString& file : g.files)
        if (importDicomSeg(file.toStdString()).segments.size() == 1)
          dimseSeg = file;
    }
    QVERIFY(!dimseSeg.isEmpty());
    QVERIFY(importDicomSeg(dimseSeg.toStdString(), image.geometry).mask.voxels == mask.voxels);

    // A series without an image (the SEG series) is refused and leaves nothing behind.
    const size_t before = database.listSeries().size();
    const QStringList storeBefore = entriesOf(QString::fromStdString(db::pacsStorageFolder(database)));
    try
    {
      db::retrieveSeries(database, *webClient, segs[0].seriesUid);
      QFAIL("a SEG series was imported as an image");
    }
    catch (const Error& e)
    {
      QVERIFY2(QString(e.what()).contains("was retrieved but"), e.what());
    }
    QCOMPARE(database.listSeries().size(), before);
    QCOMPARE(entriesOf(QString::fromStdString(db::pacsStorageFolder(database))), storeBefore);
  }

  void commandLine()
  {
    QTemporaryDir dbDir;
    auto run = [](const QStringList& args) { return testproc::run(PANSEG_EXE, args, 120000); };
    testproc::Run r = run({ "pacs", "add", "web", "--url", m_orthanc.dicomWebUrl(), "--user-name",
                            test::OrthancTestServer::kUser, "--secret-file", m_secret });
    QVERIFY2(r.code == 0, qPrintable(testproc::show(r)));
    r = run({ "pacs", "add", "dimse", "--host", "127.0.0.1", "--port", QString::number(m_orthanc.dicomPort()),
              "--called-aet", test::OrthancTestServer::kAet, "--calling-aet", test::OrthancTestServer::kOurAet });
    QVERIFY2(r.code == 0, qPrintable(testproc::show(r)));
    r = run({ "pacs", "list", "--json" });
    QVERIFY2(r.code == 0, qPrintable(testproc::show(r)));
    const QJsonArray profiles = QJsonDocument::fromJson(r.out.toUtf8()).array();
    QCOMPARE(profiles.size(), 2);
    // The password itself is never in the profile file.
    QFile ini(qEnvironmentVariable("PANSEG_PACS_CONFIG"));
    QVERIFY(ini.open(QIODevice::ReadOnly));
    QVERIFY(!ini.readAll().contains(test::OrthancTestServer::kPassword));

    for (const QString name : { "web", "dimse" })
    {
      r = run({ "pacs", "echo", name });
      QVERIFY2(r.code == 0 && r.out.contains("answers"), qPrintable(testproc::show(r)));
      r = run({ "pacs", "find", name, "--patient-id", m_liver.patientId, "--json" });
      QVERIFY2(r.code == 0, qPrintable(testproc::show(r)));
      const QJsonArray found = QJsonDocument::fromJson(r.out.toUtf8()).array();
      QCOMPARE(found.size(), 1);
      QCOMPARE(found[0].toObject().value("study_uid").toString(), m_liver.studyUid);
    }
    r = run({ "pacs", "get", "web", "--series", m_liver.seriesUid, "--db", dbDir.path(), "--json" });
    QVERIFY2(r.code == 0, qPrintable(testproc::show(r)));
    QVERIFY2(r.err.contains("retrieving: 3/3 files"), qPrintable(r.err));
    const qint64 seriesId = QJsonDocument::fromJson(r.out.toUtf8()).object().value("series_id").toInteger();
    QVERIFY(seriesId > 0);
    r = run({ "pacs", "get", "dimse", "--series", m_liver.seriesUid, "--db", dbDir.path() });
    QVERIFY2(r.code == 0 && r.out.contains("already in the database"), qPrintable(testproc::show(r)));

    // Send a mask version of the retrieved series back as DICOM SEG (STOW-RS), and a wrong id.
    PANSEG_REQUIRE_SHARED(kLiverMask);
    int64_t version = 0;
    {
      db::StudyDatabase database(dbDir.path().toStdString());
      const Image image = database.loadImage(seriesId);
      version = database.saveMaskVersion(seriesId, readMaskFor(paths::shared(kLiverMask).toStdString(), image.geometry),
                                         db::MaskProvenance{});
    }
    r = run({ "pacs", "send", "web", "--mask-version", QString::number(version), "--db", dbDir.path() });
    QVERIFY2(r.code == 0 && r.out.startsWith(QString("sent mask version %1 to PACS web as DICOM SEG").arg(version)),
             qPrintable(testproc::show(r)));
    const QString segUid = r.out.section("DICOM SEG ", 1).section(' ', 0, 0);
    int status = 0;
    const QByteArray found = m_orthanc.request("POST", "/tools/find",
                                               QJsonDocument(QJsonObject{ { "Level", "Instance" },
                                                                          { "Query", QJsonObject{ { "SOPInstanceUID", segUid } } } })
                                                 .toJson(),
                                               &status);
    QCOMPARE(status, 200);
    QCOMPARE(QJsonDocument::fromJson(found).array().size(), 1);
    r = run({ "pacs", "send", "dimse", "--mask-version", "99999", "--db", dbDir.path() });
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("no mask version 99999"), qPrintable(r.err));

    // A C-MOVE profile: our storage SCP listens on the port Orthanc knows for our AE title.
    r = run({ "pacs", "add", "move", "--host", "127.0.0.1", "--port", QString::number(m_orthanc.dicomPort()),
              "--called-aet", test::OrthancTestServer::kAet, "--calling-aet", test::OrthancTestServer::kOurAet,
              "--retrieve", "move", "--storage-port", QString::number(m_storagePort) });
    QVERIFY2(r.code == 0 && r.out.contains("C-MOVE to port"), qPrintable(testproc::show(r)));
    QTemporaryDir moveDb;
    r = run({ "pacs", "get", "move", "--series", m_liver.seriesUid, "--db", moveDb.path() });
    QVERIFY2(r.code == 0 && r.out.startsWith("imported series 1: 3 files"), qPrintable(testproc::show(r)));
    r = run({ "pacs", "add", "bad", "--url", m_orthanc.dicomWebUrl(), "--storage-port", "4000" });
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("apply to DIMSE (--host) profiles"), qPrintable(r.err));
    r = run({ "pacs", "remove", "move" });
    QCOMPARE(r.code, 0);

    r = run({ "pacs", "find", "web", "--date", "yesterday" });
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.startsWith("panseg: error: --date 'yesterday'"), qPrintable(r.err));
    r = run({ "pacs", "echo", "nosuch" });
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("no PACS profile 'nosuch' (known: dimse, web)"), qPrintable(r.err));
    r = run({ "pacs", "remove", "dimse" });
    QVERIFY2(r.code == 0, qPrintable(testproc::show(r)));
    r = run({ "pacs", "list" });
    QVERIFY2(!r.out.contains("dimse  dimse"), qPrintable(r.out));
  }

  void listenerReceivesFromOrthanc()
  {
    auto storeToUs = [this](const QString& orthancSeriesId) {
      int status = 0;
      const QByteArray answer = m_orthanc.request("POST", "/modalities/panseg/store", orthancSeriesId.toUtf8(), &status);
      if (status != 200)
        qWarning("Orthanc store: HTTP %d %s", status, answer.constData());
      return status == 200;
    };
    QTemporaryDir dbDir;
    const QStringList common{ "--aet", test::OrthancTestServer::kOurAet, "--port", QString::number(m_storagePort),
                              "--db", dbDir.path() };
    {
      Listener l;
      QVERIFY2(l.start(common + QStringList{ "--settle", "0.5" }), qPrintable(l.out));
      // Orthanc sends the liver CT to us (its modality "panseg"): imported with its UIDs.
      QVERIFY(storeToUs(m_liver.orthancSeriesId));
      QVERIFY2(l.waitFor("imported series"), qPrintable(l.out));
      QVERIFY2(l.out.contains(m_liver.seriesUid + ", 3 instance(s)"), qPrintable(l.out));
      // The same series again: recognised, dropped.
      QVERIFY(storeToUs(m_liver.orthancSeriesId));
      QVERIFY2(l.waitFor("is already in the database"), qPrintable(l.out));
      // A series the importer refuses: one line, nothing kept.
      QVERIFY(storeToUs(m_head.orthancSeriesId));
      QVERIFY2(l.waitFor(m_head.seriesUid + " refused"), qPrintable(l.out));
      l.stop();
      QVERIFY2(l.out.contains("stopping"), qPrintable(l.out));
    }
    {
      db::StudyDatabase database(dbDir.path().toStdString());
      const auto series = database.listSeries();
      QCOMPARE(series.size(), size_t(1));
      QCOMPARE(QString::fromStdString(series[0].seriesInstanceUid), m_liver.seriesUid);
      QCOMPARE(series[0].fileCount, 3);
      const QString store = QString::fromStdString(db::pacsStorageFolder(database));
      QCOMPARE(sorted(entriesOf(store)), sorted({ "incoming", "queue", m_liver.seriesUid }));
      QVERIFY(entriesOf(store + "/incoming").isEmpty());
    }
    // What arrived before a stop is imported after the restart (the incoming folder persists).
    QTemporaryDir dbDir2;
    const QStringList second{ "--aet", test::OrthancTestServer::kOurAet, "--port", QString::number(m_storagePort),
                              "--db", dbDir2.path() };
    {
      Listener l;
      QVERIFY2(l.start(second + QStringList{ "--settle", "600" }), qPrintable(l.out));
      QVERIFY(storeToUs(m_liver.orthancSeriesId)); // Orthanc returns once every instance is stored
      l.stop();
      QVERIFY2(!l.out.contains("imported series"), qPrintable(l.out));
    }
    {
      Listener l;
      QVERIFY2(l.start(second + QStringList{ "--settle", "0.2" }), qPrintable(l.out));
      QVERIFY2(l.waitFor("imported series"), qPrintable(l.out));
      l.stop();
    }
    db::StudyDatabase database2(dbDir2.path().toStdString());
    QCOMPARE(database2.listSeries().size(), size_t(1));

    // Usage errors: one line, exit 2.
    const testproc::Run r = testproc::run(PANSEG_EXE, { "listen", "--send-to", "x" });
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("--send-to sends the AI mask back and needs --auto-predict"), qPrintable(r.err));
  }

  // The incoming node's whole job ("done when" of issue 16): Orthanc sends a CT series to
  // `panseg listen --auto-predict MODEL --send-to PROFILE`, which imports it, predicts it with
  // the demo model in the worker, stores the AI mask version and sends it back as DICOM SEG; Orthanc
  // then holds the SEG in the same study. Runs last: it adds a third patient to the Orthanc.
  void listenerPredictsAndSendsTheSegBack()
  {
    demo::PhantomOptions po;
    po.generateMr = false;
    const demo::Phantom phantom = demo::generatePhantom(po);
    QTemporaryDir dir;
    pacs::DicomSeriesInfo info;
    info.patientName = "LISTENER^PHANTOM";
    info.patientId = "PANSEG-LISTEN";
    const pacs::WrittenSeries written = pacs::writeDicomSeries(phantom.ct, dir.filePath("series"), info);
    QStringList files;
    for (const QString& f : QDir(dir.filePath("series")).entryList(QDir::Files, QDir::Name))
      files << dir.filePath("series/" + f);
    QCOMPARE(files.size(), written.files);
    QString error;
    QVERIFY2(m_orthanc.upload(files, &error), qPrintable(error));
    const StudyFacts facts = factsOf("LISTENER^PHANTOM");
    QCOMPARE(facts.seriesUid, written.seriesUid);
    QCOMPARE(facts.instances, written.files);
    ProfileStore().save(web()); // the --send-to profile, in this test's PANSEG_PACS_CONFIG

    QTemporaryDir dbDir;
    {
      Listener l;
      QVERIFY2(l.start({ "--aet", test::OrthancTestServer::kOurAet, "--port", QString::number(m_storagePort), "--db",
                         dbDir.path(), "--settle", "0.5", "--auto-predict", PANSEG_DEMO_MODEL, "--send-to",
                         "orthanc-web" }),
               qPrintable(l.out));
      int status = 0;
      m_orthanc.request("POST", "/modalities/panseg/store", facts.orthancSeriesId.toUtf8(), &status);
      QCOMPARE(status, 200);
      QVERIFY2(l.waitFor("sent mask version", 600000), qPrintable(l.out));
      l.stop();
      QVERIFY2(l.out.contains("predicted series"), qPrintable(l.out));
    }
    // The database: the series with its UID and one AI draft mask version holding a pancreas.
    db::StudyDatabase database(dbDir.path().toStdString());
    const auto series = database.listSeries();
    QCOMPARE(series.size(), size_t(1));
    QCOMPARE(QString::fromStdString(series[0].seriesInstanceUid), written.seriesUid);
    const auto masks = database.masksOf(series[0].id);
    QCOMPARE(masks.size(), size_t(1));
    QCOMPARE(masks[0].source, db::MaskSource::AI);
    QVERIFY(masks[0].modelVersionId > 0);
    const double ml = database.loadMask(masks[0].id).volumeMl(1);
    QVERIFY2(ml > 10 && ml < 300, qPrintable(QString::number(ml)));
    // Orthanc (its own REST API): the study now also holds a SEG series.
    int status = 0;
    const QJsonObject study =
      QJsonDocument::fromJson(m_orthanc.get("/series/" + facts.orthancSeriesId + "/study", &status)).object();
    QCOMPARE(status, 200);
    QStringList modalities;
    for (const QJsonValue& id : study.value("Series").toArray())
      modalities << QJsonDocument::fromJson(m_orthanc.get("/series/" + id.toString(), &status))
                      .object()
                      .value("MainDicomTags")
                      .toObject()
                      .value("Modality")
                      .toString();
    modalities.sort();
    QCOMPARE(modalities, QStringList({ "CT", "SEG" }));
  }
};

QTEST_GUILESS_MAIN(TestPacsOrthanc)
#include "tst_pacs_orthanc.moc"
