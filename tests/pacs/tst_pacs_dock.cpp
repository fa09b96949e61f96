// The PACS dock in the real workstation (ui::attachWorkstation) under Xvfb, against a real
// Orthanc (OrthancTestServer.h) holding dcmqi's liver CT: search by typing and clicking, the
// results table, Retrieve (the series enters the study database and opens in the views), the
// "in database" mark, double-clicking a study for its series, a refused password in the status
// line. With $PANSEG_PACS_SCREENSHOTS set, the window is saved there as PNG.
#include "../SharedData.h"
#include "OrthancTestServer.h"

#include "core/io/ImageIO.h"
#include "core/pacs/PacsProfile.h"
#include "database/StudyDatabase.h"
#include "ui/MainWindow.h"
#include "ui/PacsDock.h"
#include "ui/StudyBrowser.h"
#include "ui/ViewerModel.h"
#include "ui/Workstation.h"

#include <QApplication>
#include <QComboBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QDockWidget>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <memory>

using namespace panseg;

class TestPacsDock : public QObject
{
  Q_OBJECT
  test::OrthancTestServer m_orthanc;
  QTemporaryDir m_tmp;

private slots:
  void initTestCase()
  {
    const QString why = test::OrthancTestServer::unavailableReason();
    if (!why.isEmpty())
      QSKIP(qPrintable(why));
    PANSEG_REQUIRE_SHARED("data/dcmqi/ct-3slice");
    QString error;
    QVERIFY2(m_orthanc.start(&error), qPrintable(error));
    QStringList files;
    for (const QFileInfo& fi : QDir(paths::shared("data/dcmqi/ct-3slice")).entryInfoList(QDir::Files, QDir::Name))
      files << fi.absoluteFilePath();
    QVERIFY2(m_orthanc.upload(files, &error), qPrintable(error));
    qputenv("PANSEG_PACS_CONFIG", QFile::encodeName(m_tmp.filePath("pacs.ini")));
    qputenv("PANSEG_USER", "radiologist");
    pacs::ProfileStore store;
    pacs::PacsProfile p;
    p.name = "hospital";
    p.url = m_orthanc.dicomWebUrl();
    p.auth = pacs::AuthKind::Basic;
    p.username = test::OrthancTestServer::kUser;
    p.secretFile = m_orthanc.passwordFile();
    store.save(p);
    p.name = "wrong-password";
    p.secretFile = m_orthanc.passwordFile("not-it");
    store.save(p);
  }

  void searchRetrieveOpen()
  {
    QTemporaryDir dbDir;
    auto w = std::make_unique<ui::MainWindow>();
    w->resize(1400, 950);
    ui::Workstation* ws = ui::attachWorkstation(*w, dbDir.path());
    QVERIFY(ws->pacs && ws->pacsDock);
    w->show();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    ws->pacsDock->raise();
    ui::PacsDock* dock = ws->pacs;
    QCOMPARE(dock->serverBox()->count(), 2);
    dock->serverBox()->setCurrentIndex(dock->serverBox()->findText("hospital"));

    // Type a patient name, press Search.
    QTest::keyClicks(dock->patientNameEdit(), "JAN*");
    QTest::mouseClick(dock->searchButton(), Qt::LeftButton);
    QVERIFY(dock->waitForIdle());
    QTableWidget* table = dock->results();
    QVERIFY2(table->rowCount() == 1, qPrintable(dock->statusLabel()->text()));
    QCOMPARE(table->item(0, 1)->text(), QString("JANCT000"));
    QCOMPARE(table->item(0, 4)->text(), QString("CT"));
    QCOMPARE(table->item(0, 6)->text(), QString("3"));
    QVERIFY(table->item(0, 0)->text().isEmpty()); // not in the database yet

    // A name nobody has: no rows.
    dock->patientNameEdit()->setText("NOBODY*");
    QTest::mouseClick(dock->searchButton(), Qt::LeftButton);
    QVERIFY(dock->waitForIdle());
    QCOMPARE(table->rowCount(), 0);

    // Double-clicking the study lists its series.
    dock->patientNameEdit()->setText("JAN*");
    QTest::mouseClick(dock->searchButton(), Qt::LeftButton);
    QVERIFY(dock->waitForIdle());
    QCOMPARE(table->rowCount(), 1);
    const QRect cell = table->visualItemRect(table->item(0, 1));
    QVERIFY(table->isVisible());
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, cell.center());
    QTest::mouseDClick(table->viewport(), Qt::LeftButton, {}, cell.center());
    QVERIFY(dock->waitForIdle());
    QCOMPARE(table->rowCount(), 1);
    QCOMPARE(dock->records().at(0).level, pacs::Level::Series);
    const QString seriesUid = dock->records().at(0).seriesUid;

    // Retrieve: the series is imported and opens in the views.
    QSignalSpy retrieved(dock, &ui::PacsDock::seriesRetrieved);
    table->selectRow(0);
    QVERIFY(dock->retrieveButton()->isEnabled());
    QTest::mouseClick(dock->retrieveButton(), Qt::LeftButton);
    QVERIFY(dock->waitForIdle());
    QVERIFY2(retrieved.count() == 1, qPrintable(dock->statusLabel()->text()));
    const int64_t seriesId = retrieved.at(0).at(0).toLongLong();
    const auto rec = ws->browser->database()->series(seriesId);
    QVERIFY(rec);
    QCOMPARE(QString::fromStdString(rec->seriesInstanceUid), seriesUid);
    QVERIFY(w->model()->hasImage());
    QCOMPARE(w->model()->image().geometry.size, (Size3{ 512, 512, 3 }));
    QCOMPARE(ws->browser->openedSeriesId(), seriesId);
    QCOMPARE(table->item(0, 0)->text(), QString::fromUtf8("\u2713"));
    QVERIFY2(dock->statusLabel()->text().contains("1 series retrieved"), qPrintable(dock->statusLabel()->text()));

    const QString dir = qEnvironmentVariable("PANSEG_PACS_SCREENSHOTS");
    if (!dir.isEmpty())
    {
      QDir().mkpath(dir);
      QTest::qWait(300);
      QVERIFY(w->grab().save(dir + "/pacs_dock.png"));
    }

    // Retrieving again fetches nothing.
    table->selectRow(0);
    QVERIFY(dock->retrieveButton()->isEnabled());
    QTest::mouseClick(dock->retrieveButton(), Qt::LeftButton);
    QVERIFY(dock->waitForIdle());
    QVERIFY2(dock->statusLabel()->text().contains("0 series retrieved") &&
               dock->statusLabel()->text().contains("1 already in the database"),
             qPrintable(dock->statusLabel()->text()));
    QCOMPARE(ws->browser->database()->listSeries().size(), size_t(1));

    // Send mask to PACS: only an approved version goes.
    PANSEG_REQUIRE_SHARED("data/dcmqi/liver_seg.nrrd");
    db::StudyDatabase* database = ws->browser->database();
    const LabelMask mask = readMaskFor(paths::shared("data/dcmqi/liver_seg.nrrd").toStdString(), w->model()->image().geometry);
    const int64_t version = database->saveMaskVersion(seriesId, mask, db::MaskProvenance{});
    ws->browser->refresh();
    QVERIFY(ws->browser->selectSeries(seriesId));
    QVERIFY(ws->browser->selectMask(version));
    int status = 0;
    const int instancesBefore = int(QJsonDocument::fromJson(m_orthanc.get("/instances", &status)).array().size());
    QVERIFY(dock->sendButton()->isEnabled());
    QTest::mouseClick(dock->sendButton(), Qt::LeftButton);
    QVERIFY(dock->waitForIdle());
    QVERIFY2(dock->statusLabel()->text().contains("only approved masks are sent"), qPrintable(dock->statusLabel()->text()));
    database->setMaskState(version, db::MaskState::Submitted);
    database->setMaskState(version, db::MaskState::Approved);
    QTest::mouseClick(dock->sendButton(), Qt::LeftButton);
    QVERIFY(dock->waitForIdle());
    QVERIFY2(dock->statusLabel()->text().startsWith(QString("Sent mask version %1 to hospital as DICOM SEG").arg(version)),
             qPrintable(dock->statusLabel()->text()));
    const QJsonArray instances = QJsonDocument::fromJson(m_orthanc.get("/instances?expand", &status)).array();
    QCOMPARE(int(instances.size()), instancesBefore + 1);
    int segSeries = 0;
    for (const QJsonValue& v : QJsonDocument::fromJson(m_orthanc.get("/series?expand", &status)).array())
      segSeries += v.toObject().value("MainDicomTags").toObject().value("Modality").toString() == "SEG" ? 1 : 0;
    QCOMPARE(segSeries, 1);

    // A refused password: one line in the status, the table unchanged.
    dock->serverBox()->setCurrentIndex(dock->serverBox()->findText("wrong-password"));
    dock->levelBox()->setCurrentIndex(0);
    QTest::mouseClick(dock->searchButton(), Qt::LeftButton);
    QVERIFY(dock->waitForIdle());
    QVERIFY2(dock->statusLabel()->text().contains("refused the credentials (HTTP 401"),
             qPrintable(dock->statusLabel()->text()));
    QCOMPARE(table->rowCount(), 1);
  }
};

QTEST_MAIN(TestPacsDock)
#include "tst_pacs_dock.moc"
