// Segmentation > Model in the real main window under Xvfb: the submenu lists the packages of the
// catalog (fake packages in a temporary search root, the shipped demo package as the remembered
// choice, a registered package of a real SQLite study database) with their labels; choosing one
// makes it the prediction model, and the prediction's progress title names it.
#include "../GuiTestMain.h"
#include "SyntheticData.h"
#include "database/StudyDatabase.h"
#include "database/registry/ModelRegistry.h"
#include "ui/MainWindow.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QDir>
#include <QFile>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QLabel>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using panseg::ui::MainWindow;

namespace
{
void writeFile(const QString& path, const QByteArray& content)
{
  QFile f(path);
  QVERIFY2(f.open(QIODevice::WriteOnly | QIODevice::Truncate), qPrintable(path));
  QCOMPARE(f.write(content), qint64(content.size()));
}

QString makePackage(const QString& dir, const QByteArray& modelJson)
{
  QDir().mkpath(dir);
  writeFile(dir + "/model.json", modelJson);
  writeFile(dir + "/plans.json", "{}");
  writeFile(dir + "/weights.json", "{\"tensors\": []}");
  writeFile(dir + "/weights.bin", "0123");
  return QDir(dir).absolutePath();
}

QMenu* modelMenu(MainWindow& w)
{
  return w.findChild<QMenu*>(QStringLiteral("modelMenu"));
}

/// Opens the submenu (which rebuilds it), returns its model actions (those with a folder).
QList<QAction*> openModelMenu(MainWindow& w)
{
  QMenu* menu = modelMenu(w);
  menu->popup(w.mapToGlobal(QPoint(20, 20)));
  QTest::qWait(50);
  QList<QAction*> out;
  for (QAction* a : menu->actions())
    if (!a->data().toString().isEmpty())
      out << a;
  menu->hide();
  return out;
}

QAction* byText(const QList<QAction*>& actions, const QString& text)
{
  for (QAction* a : actions)
    if (a->text() == text)
      return a;
  return nullptr;
}

const QString kPanSegNetLabel = QStringLiteral("PanSegNet test v2 \u2014 PanSegNet 3D \u00b7 CT \u00b7 demo");
const QString kPNetLabel =
    QStringLiteral("PNet test v1 \u2014 PNet-MSA 2D + BiRNN \u00b7 CT \u00b7 fast on CPU");
} // namespace

class TstModelMenu : public QObject
{
  Q_OBJECT
  QTemporaryDir m_tmp;
  QString m_root, m_pansegnet, m_pnet;

private slots:
  void initTestCase()
  {
    QVERIFY(m_tmp.isValid());
    qunsetenv("PANSEG_MODEL");
    qputenv("PANSEG_WORKER", QFile::encodeName(m_tmp.filePath("no-such-worker")));
    m_root = m_tmp.filePath("models");
    m_pansegnet = makePackage(m_root + "/pansegnet-test",
                              R"({"name": "PanSegNet test", "version": "2", "model_type": "pansegnet",
                                  "modality": "CT", "demo": true, "description": "3D test package"})");
    m_pnet = makePackage(m_root + "/pnet-test",
                         R"({"name": "PNet test", "version": "1", "model_type": "pnet-msa",
                             "speed_class": "fast-cpu", "modality": "CT",
                             "description": "2D test package"})");
    QDir().mkpath(m_root + "/broken");
    writeFile(m_root + "/broken/model.json", "{");
  }

  void menuListsTheCatalogAndChoosingSetsTheModel()
  {
    MainWindow w;
    w.resize(900, 700);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.setModelSearchRoots({ m_root });
    w.setPredictionModelDir(PANSEG_DEMO_MODEL); // the remembered choice, outside the search roots

    // The submenu sits in the Segmentation menu.
    QMenu* menu = modelMenu(w);
    QVERIFY(menu);
    QMenu* seg = nullptr;
    for (QAction* a : w.menuBar()->actions())
      if (a->menu() && a->menu()->actions().contains(menu->menuAction()))
        seg = a->menu();
    QVERIFY(seg);
    QCOMPARE(seg->title(), QString("&Segmentation"));

    QList<QAction*> actions = openModelMenu(w);
    QCOMPARE(actions.size(), 4); // pansegnet-test, pnet-test, broken, the shipped demo
    QAction* pansegnet = byText(actions, kPanSegNetLabel);
    QAction* pnet = byText(actions, kPNetLabel);
    QAction* broken = byText(actions, QStringLiteral("broken \u2014 not a usable model package"));
    QVERIFY(pansegnet && pnet && broken);
    QVERIFY(!broken->isEnabled());
    QVERIFY(broken->toolTip().contains("has no plans.json"));
    QCOMPARE(pnet->toolTip(), QString("2D test package\n") + m_pnet);
    QAction* demo = actions.at(3);
    QVERIFY2(demo->text().startsWith(
                 QStringLiteral("PanSegNet demo (synthetic phantoms) v1 \u2014 PanSegNet 3D")),
             qPrintable(demo->text()));
    QVERIFY(demo->text().endsWith(QStringLiteral(" \u00b7 demo")));
    // The current choice is checked, and only it.
    QVERIFY(demo->isChecked());
    QVERIFY(!pansegnet->isChecked() && !pnet->isChecked());
    QVERIFY(pnet->isCheckable() && pnet->actionGroup() && pnet->actionGroup()->isExclusive());

    pnet->trigger();
    QCOMPARE(w.predictionModelDir(), m_pnet);
    QCOMPARE(w.modelLabel(w.predictionModelDir()), kPNetLabel);

    // Reopened: rebuilt with the new choice checked. The demo was listed only as the remembered
    // choice (it is outside the search roots here), so it is gone.
    actions = openModelMenu(w);
    QCOMPARE(actions.size(), 3);
    QVERIFY(byText(actions, kPNetLabel)->isChecked());
    QVERIFY(!byText(actions, kPanSegNetLabel)->isChecked());

    // The prediction's progress title names the chosen model by its label (the worker is missing
    // here, so the prediction then fails with that reason).
    w.setImage(synthetic::ct());
    QSignalSpy finished(&w, &MainWindow::predictionFinished);
    QVERIFY(w.predictPancreas());
    QVERIFY(finished.count() == 1 || finished.wait(20000));
    QVERIFY(!finished.at(0).at(0).toBool());
    QVERIFY2(w.lastError().contains("was not found"), qPrintable(w.lastError()));
    // The prediction's title (model label) is the status-bar progress label's tooltip.
    QVERIFY(w.predictionStatus());
    auto* label = w.predictionStatus()->findChild<QLabel*>("predictionLabel");
    QVERIFY(label);
    QCOMPARE(label->toolTip(), QString("Predicting the pancreas with %1...").arg(kPNetLabel));
    for (QMessageBox* b : w.findChildren<QMessageBox*>())
      b->close();
  }

  void registeredModelsOfTheStudyDatabase()
  {
    panseg::db::StudyDatabase db(m_tmp.filePath("db").toStdString());
    const QString tuned = makePackage(m_tmp.filePath("jobs/3/package"),
                                      R"({"name": "Tuned", "version": "5", "model_type": "pnet-msa",
                                          "speed_class": "fast-cpu", "modality": "CT"})");
    const int64_t id = panseg::db::registerModelPackage(db, tuned.toStdString());
    MainWindow w; // never shown: its teardown must not need an OpenGL context
    w.setModelSearchRoots({ m_root });
    w.setPredictionModelDir(m_pansegnet);
    QList<QAction*> actions = openModelMenu(w);
    QCOMPARE(actions.size(), 3); // no registry yet: pansegnet-test, pnet-test, broken
    w.setModelRegistry([&db] { return &db; });
    actions = openModelMenu(w);
    QCOMPARE(actions.size(), 4);
    QAction* a =
        byText(actions, QStringLiteral("Tuned v5 \u2014 PNet-MSA 2D + BiRNN \u00b7 CT \u00b7 fast on CPU"));
    QVERIFY(a);
    QVERIFY(a->toolTip().contains(QString("registry id %1").arg(id)));
    QVERIFY(byText(actions, kPanSegNetLabel)->isChecked());
    a->trigger();
    QCOMPARE(w.predictionModelDir(), tuned);
  }
};

int main(int argc, char** argv)
{
  return test::runGuiTest<TstModelMenu>(argc, argv);
}
#include "tst_model_menu.moc"
