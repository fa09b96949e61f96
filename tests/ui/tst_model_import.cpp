// Importing nnU-Net models (issue 18): the one service (db::importModel) through the command line
// (`panseg model import`, a real panseg and panseg-models) and through File > Import Model in the
// real main window under Xvfb, on the real checkpoints of ../shared/fixtures (the PanSegNet
// authors' nnU-Net v1 checkpoint and the nnU-Net v2 fixture's trained-model folders); bad input
// is one line and writes nothing.
#include "../GuiTestMain.h"
#include "database/StudyDatabase.h"
#include "database/registry/ModelImport.h"
#include "ui/MainWindow.h"
#include "ui/ModelImportDialog.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QProcess>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using panseg::ui::MainWindow;
using panseg::ui::ModelImportDialog;

namespace
{
QString shared(const QString& rel) { return QStringLiteral(PANSEG_SHARED_DIR) + "/" + rel; }
const QString kV1Checkpoint = QStringLiteral("fixtures/pansegnet-parity/model_final_checkpoint.model");
const QString kV2Ct = QStringLiteral("fixtures/nnunetv2-pipeline/models/Dataset981_PancreasCTFixture");

struct Run
{
  int code = -1;
  QString out, err;
};

Run runPanseg(const QStringList& args, const QString& xdgData)
{
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("XDG_DATA_HOME", xdgData);
  env.insert("QT_QPA_PLATFORM", "offscreen");
  p.setProcessEnvironment(env);
  p.start(PANSEG_EXE, args);
  if (!p.waitForFinished(180000))
    p.kill();
  return { p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError()) };
}

QByteArray sha(const QString& path)
{
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return {};
  return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256).toHex();
}

/// An nnU-Net v1 result folder as nnU-Net writes it: TASK/TRAINER__PLANS/fold_0/ with the
/// authors' checkpoint and its .pkl.
QString makeV1Result(const QString& root)
{
  const QString result = root + "/Task901_Fixture/nnTransUNetTrainerV2__nnUNetPlansv2.1";
  QDir().mkpath(result + "/fold_0");
  for (const QString f : { "model_final_checkpoint.model", "model_final_checkpoint.model.pkl" })
    QFile::copy(shared("fixtures/pansegnet-parity/" + f), result + "/fold_0/" + f);
  return result;
}
} // namespace

class TstModelImport : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;

private slots:
  void initTestCase()
  {
    QVERIFY(m_tmp.isValid());
    if (!QFile::exists(shared(kV1Checkpoint)) || !QDir(shared(kV2Ct)).exists())
      QSKIP("../shared/fixtures (pansegnet-parity, nnunetv2-pipeline) is absent: nothing real to import");
    qputenv("PANSEG_MODELS", PANSEG_MODELS_TOOL);
  }

  void sourcesAreRecognisedOrNamed()
  {
    const QString v1 = makeV1Result(m_tmp.filePath("kinds"));
    QCOMPARE(panseg::db::describeModelSource(v1), QString("nnU-Net v1 result folder"));
    QString resolved;
    // The dataset folder above the one trained configuration resolves to it.
    QCOMPARE(panseg::db::describeModelSource(shared(kV2Ct), &resolved), QString("nnU-Net v2 trained-model folder"));
    QVERIFY(resolved.endsWith("/nnUNetTrainer__nnUNetPlans__3d_fullres"));
    QCOMPARE(panseg::db::suggestedPackageName(resolved), QString("Dataset981_PancreasCTFixture"));
    QCOMPARE(panseg::db::suggestedPackageName(resolved, "My model 2"), QString("My-model-2"));
    QVERIFY(panseg::db::describeModelSource(m_tmp.filePath("kinds/Task901_Fixture")) ==
            "nnU-Net v1 result folder");
    auto error = [](const QString& src)
    {
      try
      {
        panseg::db::describeModelSource(src);
      }
      catch (const std::exception& e)
      {
        return QString::fromUtf8(e.what());
      }
      return QString();
    };
    QVERIFY(error(m_tmp.filePath("nothing-here")).startsWith("model to import not found"));
    QDir().mkpath(m_tmp.filePath("empty"));
    QVERIFY(error(m_tmp.filePath("empty")).contains("is not an nnU-Net model: expected fold_N/"));
    QVERIFY(error(shared(kV1Checkpoint)).contains("is a file but not a zip"));
    QVERIFY(error("").startsWith("no model to import"));
    // Two trained configurations under one folder: the user has to choose.
    makeV1Result(m_tmp.filePath("two"));
    QDir().mkpath(m_tmp.filePath("two/Task901_Fixture/other__plans/fold_1"));
    QFile::copy(shared(kV1Checkpoint), m_tmp.filePath("two/Task901_Fixture/other__plans/fold_1/a.model"));
    QVERIFY(error(m_tmp.filePath("two/Task901_Fixture")).contains("holds several trained models"));
  }

  void commandLineImportsAndRegisters()
  {
    const QString xdg = m_tmp.filePath("cli-xdg"), dbDir = m_tmp.filePath("cli-db");
    const QString v1 = makeV1Result(m_tmp.filePath("cli"));
    const Run r = runPanseg({ "model", "import", m_tmp.filePath("cli/Task901_Fixture"), "--modality", "CT",
                              "--db", dbDir, "--json" },
                            xdg);
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
    const QString pkg = xdg + "/panseg/models/Task901_Fixture";
    QCOMPARE(o.value("package").toString(), pkg);
    QCOMPARE(o.value("kind").toString(), QString("nnU-Net v1 result folder"));
    QCOMPARE(o.value("modality").toString(), QString("CT"));
    QCOMPARE(o.value("folds").toInt(), 1);
    QVERIFY(o.value("model_version_id").toInt() > 0);
    for (const char* f : { "plans.json", "model.json", "weights.json", "weights.bin" })
      QVERIFY2(QFile::exists(pkg + "/" + f), f);
    {
      panseg::db::StudyDatabase db(dbDir.toStdString());
      bool found = false;
      for (const auto& m : db.modelVersions())
        found = found || m.id == o.value("model_version_id").toInt();
      QVERIFY(found);
    }
    // Again without --force: refused in one line, the package untouched.
    const QByteArray before = sha(pkg + "/weights.bin");
    const Run again = runPanseg({ "model", "import", v1, "--db", dbDir }, xdg);
    QCOMPARE(again.code, 1);
    QVERIFY2(again.err.contains("already exists") && again.err.count('\n') == 1, qPrintable(again.err));
    QCOMPARE(sha(pkg + "/weights.bin"), before);
    // A truncated checkpoint: one line naming the file, nothing written.
    const QString broken = m_tmp.filePath("broken/Task902_Broken/trainer__plans");
    QDir().mkpath(broken + "/fold_0");
    QFile::copy(shared("fixtures/pansegnet-parity/model_final_checkpoint.model.pkl"),
                broken + "/fold_0/model_final_checkpoint.model.pkl");
    {
      QFile in(shared(kV1Checkpoint)), out(broken + "/fold_0/model_final_checkpoint.model");
      QVERIFY(in.open(QIODevice::ReadOnly) && out.open(QIODevice::WriteOnly));
      out.write(in.read(in.size() / 3));
    }
    const Run bad = runPanseg({ "model", "import", broken, "--out", m_tmp.filePath("broken-pkg"), "--no-register" }, xdg);
    QCOMPARE(bad.code, 1);
    QVERIFY2(bad.err.count('\n') == 1 && bad.err.contains("model_final_checkpoint.model"), qPrintable(bad.err));
    QVERIFY(!QDir(m_tmp.filePath("broken-pkg")).exists());
    // Not a model at all: refused before any child starts.
    const Run none = runPanseg({ "model", "import", m_tmp.filePath("cli-db"), "--no-register" }, xdg);
    QCOMPARE(none.code, 1);
    QVERIFY2(none.err.contains("is not an nnU-Net model"), qPrintable(none.err));
  }

  void fileImportModelInTheWindow()
  {
    panseg::db::StudyDatabase db(m_tmp.filePath("gui-db").toStdString());
    MainWindow w;
    w.resize(1000, 720);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.setModelRegistry([&db] { return &db; });
    QAction* action = w.menuBar()->findChild<QAction*>(QStringLiteral("importModel"));
    QVERIFY(action);
    action->trigger();
    auto* dialog = w.findChild<ModelImportDialog*>();
    QVERIFY(dialog && dialog->isVisible());
    auto* importButton = dialog->findChild<QPushButton*>(QStringLiteral("importButton"));
    auto* state = dialog->findChild<QLabel*>(QStringLiteral("sourceState"));
    QVERIFY(importButton && state);
    QVERIFY(!importButton->isEnabled()); // nothing chosen yet

    // A folder that is no model: named in red, Import stays off.
    QDir().mkpath(m_tmp.filePath("gui-empty"));
    QTest::keyClicks(dialog->sourceEdit(), m_tmp.filePath("gui-empty"));
    QVERIFY(state->text().contains("is not an nnU-Net model"));
    QVERIFY(!importButton->isEnabled());

    // The v2 dataset folder: recognised, the package folder suggested from its name.
    dialog->sourceEdit()->clear();
    QTest::keyClicks(dialog->sourceEdit(), shared(kV2Ct));
    QVERIFY2(state->text().startsWith("nnU-Net v2 trained-model folder"), qPrintable(state->text()));
    QVERIFY(importButton->isEnabled());
    QVERIFY(dialog->outEdit()->placeholderText().endsWith("/panseg/models/Dataset981_PancreasCTFixture"));
    const QString pkg = m_tmp.filePath("gui-pkg");
    QTest::keyClicks(dialog->outEdit(), pkg);
    QVERIFY(dialog->registerBox()->isChecked());
    QSignalSpy imported(dialog, &ModelImportDialog::imported), failed(dialog, &ModelImportDialog::importFailed);
    QTest::mouseClick(importButton, Qt::LeftButton);
    QVERIFY(dialog->isImporting() || !imported.isEmpty());
    QVERIFY(imported.wait(120000) || !imported.isEmpty());
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.at(0).at(0).toString()));
    QCOMPARE(imported.at(0).at(0).toString(), pkg);
    QCOMPARE(w.predictionModelDir(), pkg); // Predict Pancreas uses it now
    QVERIFY(dialog->result().modelVersionId > 0);
    bool registered = false;
    for (const auto& m : db.modelVersions())
      registered = registered || m.id == dialog->result().modelVersionId;
    QVERIFY(registered);
    bool listed = false;
    for (const auto& e : w.modelCatalog())
      listed = listed || (e.dir == pkg.toStdString() && e.registryId == dialog->result().modelVersionId);
    QVERIFY(listed);
    QDir().mkpath("/tmp/panseg-import");
    dialog->grab().save("/tmp/panseg-import/dialog.png");

    // The same folder again without "Replace": refused, the package and the model choice kept.
    const QByteArray before = sha(pkg + "/weights.bin");
    QTest::mouseClick(importButton, Qt::LeftButton);
    QVERIFY(failed.wait(120000) || !failed.isEmpty());
    QVERIFY2(failed.at(0).at(0).toString().contains("already exists"), qPrintable(failed.at(0).at(0).toString()));
    QCOMPARE(sha(pkg + "/weights.bin"), before);
    QCOMPARE(w.predictionModelDir(), pkg);
    dialog->grab().save("/tmp/panseg-import/dialog-error.png");
    dialog->close();
  }
};

int main(int argc, char** argv)
{
  return test::runGuiTest<TstModelImport>(argc, argv);
}

#include "tst_model_import.moc"
