// Issue 20, defects 8 and 9, on real widgets under xvfb:
//  * the study browser's mask list flags an implausible AI version (Check column in red, the
//    findings in the tooltip, a red status line when it is selected); Approve asks for a
//    confirmation (Cancel leaves it submitted, "Approve anyway" approves it, audited with the flag);
//  * the Volumes dock names the reference-mask rule and lets a coordinator change it (a reader
//    cannot).
// Screenshots go to $PANSEG_SCREENSHOT_DIR (default /tmp/panseg-plausibility).
#include "core/Volume.h"
#include "core/io/ImageIO.h"
#include "database/studies/Plausibility.h"
#include "database/studies/ReferenceMask.h"
#include "database/StudyDatabase.h"
#include "database/exports/VolumeTable.h"
#include "database/studies/ReaderStudy.h"
#include "ui/MaskListModel.h"
#include "ui/ReaderStudyPanel.h"
#include "ui/StudyBrowser.h"
#include "ui/VolumeTableModel.h"
#include "ui/VolumeTableView.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QTableView>
#include <QTemporaryDir>
#include <QTimer>
#include <QUuid>
#include <QtTest>

using namespace panseg;
using namespace panseg::db;

namespace
{
QString shotDir()
{
  const QByteArray env = qgetenv("PANSEG_SCREENSHOT_DIR");
  const QString dir = env.isEmpty() ? QString("/tmp/panseg-plausibility") : QString::fromLocal8Bit(env);
  QDir().mkpath(dir);
  return dir;
}

StudyDatabase::OpenOptions as(const std::string& user)
{
  StudyDatabase::OpenOptions o;
  o.username = user;
  return o;
}

Geometry abdomen()
{
  Geometry g;
  g.size = { 100, 100, 60 };
  g.spacingMm = { 3.0, 3.0, 3.0 };
  return g;
}

LabelMask gland(const Geometry& g, double rx, double ry, double rz)
{
  LabelMask m(g);
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
      {
        const double dx = (double(x) - 50) / rx, dy = (double(y) - 50) / ry, dz = (double(z) - 30) / rz;
        if (dx * dx + dy * dy + dz * dz <= 1.0)
          m.at(x, y, z) = 1;
      }
  return m;
}

int64_t addSeries(StudyDatabase& db, const Geometry& g, const std::string& name)
{
  StudyDatabase::NewSeries s;
  s.patientKey = "test:" + name;
  s.patientName = name;
  s.studyKey = "test:" + name;
  s.studyDate = "2026-01-10";
  s.description = "synthetic CT " + name;
  s.modality = Modality::CT;
  s.geometry = g;
  s.format = "NIfTI";
  s.sourcePath = "/nonexistent/" + name + ".nii.gz";
  s.contentHash = "synthetic-" + name + "-" + QUuid::createUuid().toString(QUuid::Id128).toStdString();
  return db.addSeries(s).id;
}

/// Clicks `buttonName` in the flagged-approval dialog once it is open; records its text.
void answerFlaggedDialog(ui::StudyBrowser& b, const QString& buttonName, QString* text, bool screenshot)
{
  auto* poll = new QTimer(&b);
  poll->setInterval(20);
  QObject::connect(poll, &QTimer::timeout, &b, [&b, poll, buttonName, text, screenshot] {
    QMessageBox* box = b.flaggedApprovalDialog();
    if (!box || !box->isVisible())
      return;
    poll->stop();
    poll->deleteLater();
    *text = box->text();
    if (screenshot)
      box->grab().save(shotDir() + "/approve-flagged-dialog.png");
    for (QAbstractButton* button : box->buttons())
      if (button->objectName() == buttonName || (buttonName == "cancel" && box->buttonRole(button) == QMessageBox::RejectRole))
      {
        button->click();
        return;
      }
  });
  poll->start();
}
} // namespace

class TestPlausibilityGui : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;
  QString m_db;
  int64_t m_series = 0, m_flagged = 0, m_fine = 0;

private slots:
  void initTestCase()
  {
    m_db = m_tmp.path() + "/db";
    StudyDatabase::OpenOptions o;
    o.username = "coord"; // the first user: admin
    StudyDatabase db(m_db.toStdString(), o);
    db.addUser("alice", Role::Reader);
    const Geometry g = abdomen();
    m_series = addSeries(db, g, "P1");
    ModelVersion mv;
    mv.modelId = "pnet-msa-test";
    mv.version = "1";
    mv.files = { { "/nonexistent/pnet/model.json", "abc" } };
    MaskProvenance ai;
    ai.source = MaskSource::AI;
    ai.modelVersionId = db.registerModelVersion(mv);
    m_flagged = db.saveMaskVersion(m_series, gland(g, 3, 2, 2.6), ai); // ~1.8 mL
    m_fine = db.saveMaskVersion(m_series, gland(g, 8, 4, 6), ai);     // ~22 mL
    db.setMaskState(m_flagged, MaskState::Submitted);
    db.setMaskState(m_fine, MaskState::Submitted);
    QVERIFY(db.maskVersion(m_flagged)->plausibility.flagged);
    QVERIFY(!db.maskVersion(m_fine)->plausibility.flagged);
  }

  void maskListFlagsAndApprovalAsks()
  {
    qputenv("PANSEG_USER", "coord");
    ui::StudyBrowser b;
    b.resize(900, 640);
    QVERIFY2(b.openDatabase(m_db), qPrintable(b.lastError()));
    b.show();
    QVERIFY(QTest::qWaitForWindowExposed(&b));
    QVERIFY(b.selectSeries(m_series));
    ui::MaskListModel* masks = b.maskModel();
    QCOMPARE(masks->rowCount(), 2);
    const int rf = masks->rowOfMask(m_flagged), rok = masks->rowOfMask(m_fine);
    QCOMPARE(masks->data(masks->index(rf, ui::MaskListModel::CheckColumn)).toString(), QString::fromUtf8("\u26A0 implausible"));
    QCOMPARE(masks->data(masks->index(rok, ui::MaskListModel::CheckColumn)).toString(), QString("ok"));
    QCOMPARE(masks->data(masks->index(rf, ui::MaskListModel::CheckColumn), Qt::ForegroundRole).value<QBrush>().color(),
             QColor(190, 30, 30));
    QVERIFY(!masks->data(masks->index(rok, ui::MaskListModel::CheckColumn), Qt::ForegroundRole).isValid());
    QVERIFY(masks->data(masks->index(rf, ui::MaskListModel::CheckColumn), Qt::ToolTipRole)
              .toString()
              .contains("mL is below 10.0 mL"));

    // Selecting it puts the warning in the status line, in red.
    QVERIFY(b.selectMask(m_flagged));
    QVERIFY2(b.statusLabel()->text().contains("is flagged as implausible: volume"), qPrintable(b.statusLabel()->text()));
    QVERIFY(b.statusLabel()->styleSheet().contains("#b01e1e"));
    QVERIFY(b.approveMaskButton()->isVisible());
    QVERIFY(b.approveMaskButton()->isEnabled());
    QTest::qWait(50);
    b.grab().save(shotDir() + "/study-browser-flagged.png");

    // Cancel: nothing changes.
    QString dialogText;
    answerFlaggedDialog(b, "cancel", &dialogText, true);
    QTest::mouseClick(b.approveMaskButton(), Qt::LeftButton);
    QVERIFY2(dialogText.contains("flagged by the plausibility check"), qPrintable(dialogText));
    QVERIFY(dialogText.contains("mL is below 10.0 mL"));
    {
      StudyDatabase db(m_db.toStdString(), as("coord"));
      QCOMPARE(db.maskVersion(m_flagged)->state, MaskState::Submitted);
    }
    QVERIFY(b.statusLabel()->text().contains("was not approved"));

    // Approve anyway: approved, and the audit entry carries the flag.
    dialogText.clear();
    answerFlaggedDialog(b, "approveAnywayButton", &dialogText, false);
    QTest::mouseClick(b.approveMaskButton(), Qt::LeftButton);
    QVERIFY(!dialogText.isEmpty());
    {
      StudyDatabase db(m_db.toStdString(), as("coord"));
      QCOMPARE(db.maskVersion(m_flagged)->state, MaskState::Approved);
      const QJsonObject d =
        QJsonDocument::fromJson(QByteArray::fromStdString(db.auditLog("mask_versions", m_flagged).back().detailsJson))
          .object();
      QCOMPARE(d.value("plausibility").toObject().value("confirmed_by").toString(), QString("coord"));
    }
    QVERIFY(b.statusLabel()->text().contains("although it is flagged as implausible"));
    QCOMPARE(masks->data(masks->index(masks->rowOfMask(m_flagged), ui::MaskListModel::StateColumn)).toString(),
             QString("approved"));

    // A plausible one: no dialog.
    QVERIFY(b.selectMask(m_fine));
    QVERIFY(b.approveMaskButton()->isEnabled());
    QTest::mouseClick(b.approveMaskButton(), Qt::LeftButton);
    QVERIFY(b.flaggedApprovalDialog() == nullptr);
    QVERIFY(b.statusLabel()->text().contains(QString("Approved mask version %1.").arg(m_fine)));

    // A reader sees the flag but no Approve button.
    qputenv("PANSEG_USER", "alice");
    ui::StudyBrowser r;
    QVERIFY(r.openDatabase(m_db));
    r.show();
    QVERIFY(r.selectSeries(m_series));
    QVERIFY(r.selectMask(m_flagged));
    QVERIFY(!r.approveMaskButton()->isVisible());
    QCOMPARE(r.maskModel()->data(r.maskModel()->index(r.maskModel()->rowOfMask(m_flagged), ui::MaskListModel::CheckColumn))
               .toString(),
             QString::fromUtf8("\u26A0 implausible"));
    qunsetenv("PANSEG_USER");
  }

  void flaggedPredictionLandsInRed()
  {
    // What the workstation does when a prediction of a database series lands (Workstation.cpp:
    // predictionFinished -> StudyBrowser::savePrediction), without the worker: the model package
    // is a folder with a model.json, the prediction a 1.8 mL blob.
    QTemporaryDir tmp;
    const QString pkg = tmp.filePath("pkg");
    QDir().mkpath(pkg);
    for (const char* name : { "plans.json", "weights.json", "weights.bin" })
    {
      QFile f(pkg + "/" + name);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("{}");
    }
    QFile mj(pkg + "/model.json");
    QVERIFY(mj.open(QIODevice::WriteOnly));
    mj.write(R"({"name": "GUI test model", "version": "7", "plausibility": {"training_volume_ml": [30, 120]}})");
    mj.close();
    Image ct(abdomen());
    for (size_t i = 0; i < ct.voxels.size(); ++i)
      ct.voxels[i] = float(int(i % 1400) - 1000); // CT-like values, air included
    const QString file = tmp.filePath("ct.nii.gz");
    writeImage(ct, file.toStdString());

    qputenv("PANSEG_USER", "coord");
    ui::StudyBrowser b;
    QVERIFY2(b.openDatabase(tmp.filePath("db")), qPrintable(b.lastError()));
    b.show();
    QVERIFY(b.importPaths({ file }));
    QVERIFY(b.waitForImport());
    const int64_t series = b.selectedSeriesId();
    QVERIFY(series > 0);
    Image shown;
    connect(&b, &ui::StudyBrowser::openSeriesRequested, this, [&](int64_t id) { shown = b.loadSeries(id); });
    b.openSelectedSeries();
    QVERIFY(!shown.voxels.empty());
    const int64_t id = b.savePrediction(shown, gland(shown.geometry, 3, 2, 2.6), pkg);
    QVERIFY2(id > 0, qPrintable(b.lastError()));
    QCOMPARE(b.selectedMaskId(), id);
    QVERIFY2(b.statusLabel()->text().contains(QString("Mask version %1 is flagged as implausible").arg(id)),
             qPrintable(b.statusLabel()->text()));
    QVERIFY(b.statusLabel()->text().contains("outside the model's training data (30.0-120.0 mL)"));
    const auto row = b.maskModel()->rowOfMask(id);
    QVERIFY(b.maskModel()->data(b.maskModel()->index(row, ui::MaskListModel::CheckColumn), Qt::ToolTipRole)
              .toString()
              .contains("model.json"));
    // Selecting another (plausible) version clears the red warning.
    const int64_t fine = b.savePrediction(shown, gland(shown.geometry, 10, 6, 8), pkg); // ~60 mL
    QVERIFY(fine > 0);
    QVERIFY(b.selectMask(fine));
    QVERIFY2(!b.statusLabel()->text().contains("implausible"), qPrintable(b.statusLabel()->text()));
    QVERIFY(b.statusLabel()->styleSheet().isEmpty());
    qunsetenv("PANSEG_USER");
  }

  void volumesDockNamesAndSetsTheRule()
  {
    // Both versions are approved now (previous test); the fine one last.
    StudyDatabase coord(m_db.toStdString(), as("coord"));
    ui::VolumeTableView view;
    view.resize(1100, 520);
    view.setDatabase(&coord);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QVERIFY(view.ruleLabel()->text().contains("latest approved (default; no rule set)"));
    QVERIFY(view.ruleBox()->isEnabled());
    QVERIFY(view.setRuleButton()->isVisible());
    auto referenceId = [&] {
      for (const VolumeRow& r : view.volumeModel()->table().rows)
        if (r.approvedMask)
          return r.maskVersionId;
      return int64_t(0);
    };
    QCOMPARE(referenceId(), m_fine);

    // Consensus: no consensus version here, and the dock says so.
    view.ruleBox()->setCurrentIndex(view.ruleBox()->findData("consensus"));
    QTest::mouseClick(view.setRuleButton(), Qt::LeftButton);
    QVERIFY2(view.ruleLabel()->text().contains("reference mask: consensus (database-wide, set by coord"),
             qPrintable(view.ruleLabel()->text()));
    QVERIFY(view.ruleLabel()->text().contains("no approved consensus version (2 other approved versions)"));
    QCOMPARE(referenceId(), int64_t(0));
    QCOMPARE(referenceRule(coord).kind, ReferenceRuleKind::Consensus);
    QTest::qWait(50);
    view.grab().save(shotDir() + "/volumes-reference-rule.png");

    // Back to latest approved: the fine version is the reference again.
    view.ruleBox()->setCurrentIndex(view.ruleBox()->findData("latest"));
    QTest::mouseClick(view.setRuleButton(), Qt::LeftButton);
    QCOMPARE(referenceId(), m_fine);
    QCOMPARE(coord.auditLog("reference_mask_rules").size(), size_t(2));

    // A reader sees the rule but cannot change it.
    StudyDatabase alice(m_db.toStdString(), as("alice"));
    ui::VolumeTableView readerView;
    readerView.setDatabase(&alice);
    QVERIFY(!readerView.ruleBox()->isEnabled());
    QVERIFY(!readerView.setRuleButton()->isEnabled());
    QVERIFY(readerView.ruleLabel()->text().contains("latest approved (database-wide, set by coord"));
    QVERIFY(!readerView.applyRule());
    QVERIFY(readerView.lastError().contains("only a coordinator or an admin"));
  }

  void studyPanelSetsTheStudysOwnRule()
  {
    int64_t study = 0;
    {
      StudyDatabase coord(m_db.toStdString(), as("coord"));
      const int64_t series = addSeries(coord, abdomen(), "P2"); // not P1: its readers would be blinded there
      db::ReaderStudy rs(coord);
      db::NewReaderStudy ns;
      ns.name = "gui study";
      ns.readers = { "alice", "bob" };
      ns.seriesIds = { series };
      study = rs.createStudy(ns);
    }
    qputenv("PANSEG_USER", "coord");
    ui::ReaderStudyPanel panel;
    panel.resize(520, 600);
    QVERIFY(panel.openDatabase(m_db));
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    panel.selectStudy(study);
    // Inherits the database-wide rule (set back to latest approved by the previous test).
    QVERIFY2(panel.referenceRuleLabel()->text().contains("latest approved (database-wide, set by coord"),
             qPrintable(panel.referenceRuleLabel()->text()));
    QCOMPARE(panel.referenceRuleBox()->count(), 4); // latest, consensus, alice, bob
    panel.referenceRuleBox()->setCurrentIndex(panel.referenceRuleBox()->findData("reader:alice"));
    QTest::mouseClick(panel.setReferenceRuleButton(), Qt::LeftButton);
    QVERIFY2(panel.referenceRuleLabel()->text().contains("reader alice (reader study 'gui study', set by coord"),
             qPrintable(panel.referenceRuleLabel()->text()));
    QCOMPARE(panel.referenceRuleBox()->currentData().toString(), QString("reader:alice"));
    QTest::qWait(50);
    panel.grab().save(shotDir() + "/reader-study-reference-rule.png");
    {
      StudyDatabase coord(m_db.toStdString(), as("coord"));
      QCOMPARE(referenceRule(coord, study).kind, ReferenceRuleKind::Reader);
      QCOMPARE(referenceRule(coord, study).readerName, std::string("alice"));
      QCOMPARE(referenceRule(coord).kind, ReferenceRuleKind::Latest); // the database rule is untouched
    }
    // Readers do not get the controls.
    qputenv("PANSEG_USER", "alice");
    ui::ReaderStudyPanel readerPanel;
    QVERIFY(readerPanel.openDatabase(m_db));
    readerPanel.show();
    QVERIFY(!readerPanel.referenceRuleBox()->isVisible());
    QVERIFY(!readerPanel.setReferenceRuleButton()->isVisible());
    qunsetenv("PANSEG_USER");
  }
};

QTEST_MAIN(TestPlausibilityGui)
#include "tst_plausibility_gui.moc"
