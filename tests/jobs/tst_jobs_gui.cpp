// The Jobs dock and the Fine-tune dialog: the dock lists the database's jobs and its Cancel button
// sends SIGTERM to the process recorded for a running job; the dialog builds the `panseg train
// --db` command line that the GUI starts detached.
#include "database/jobs/FineTuning.h"
#include "database/itemmodels/JobTableModel.h"
#include "database/registry/ModelCatalog.h"
#include "database/StudyDatabase.h"
#include "database/jobs/TrainingCurve.h"
#include "ui/JobsDock.h"
#include "ui/TrainingCurveView.h"

#include <QApplication>
#include <QComboBox>
#include <QLabel>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QPainter>
#include <QProcess>
#include <QPushButton>
#include <QTableView>
#include <QTemporaryDir>
#include <QtTest>

class TstJobsGui : public QObject
{
  Q_OBJECT
private slots:
  void dialogBuildsTheTrainCommand()
  {
    panseg::ui::FineTuneDialog dialog("/data/studies", "/models/demo", {"site-a", "site-b"});
    panseg::ui::FineTuneRequest r = dialog.request();
    QCOMPARE(r.baseModel, QString("/models/demo"));
    QCOMPARE(r.dataFolder, QString("/data/studies"));
    QVERIFY(r.outDir.startsWith("/data/studies/models/finetuned-"));
    r.modality = "CT";
    r.center = "site-b";
    r.epochs = 3;
    r.iterations = 7;
    const QStringList a = panseg::ui::trainCommandArguments(r);
    QCOMPARE(a.mid(0, 3), QStringList({"train", "--db", "/data/studies"}));
    QVERIFY(a.join(' ').contains("--base-model /models/demo"));
    QVERIFY(a.join(' ').contains("--epochs 3 --iters 7"));
    QVERIFY(a.join(' ').contains("--modality CT --center site-b"));
  }

  void dialogOffersTheCatalogAndShowsTheModelType()
  {
    // The two shipped demo packages: PanSegNet and PNet-MSA (fast on CPU).
    const auto models = panseg::db::listModelPackages({PANSEG_MODELS_DIR});
    QVERIFY(models.size() >= 2);
    panseg::ui::FineTuneDialog dialog("/data/studies", PANSEG_MODELS_DIR "/demo", {}, models);
    auto* base = dialog.findChild<QComboBox*>("BaseModel");
    auto* type = dialog.findChild<QLabel*>("BaseModelType");
    QVERIFY(base && type);
    QCOMPARE(base->count(), int(models.size()));
    QVERIFY(panseg::db::sameModelDir(dialog.request().baseModel.toStdString(), PANSEG_MODELS_DIR "/demo"));
    QCOMPARE(type->text(), QString("Trains a PanSegNet 3D model."));
    const int pnet = base->findText("PNet-MSA", Qt::MatchContains);
    QVERIFY(pnet >= 0);
    base->setCurrentIndex(pnet);
    QCOMPARE(type->text(), QString("Trains a PNet-MSA 2D + BiRNN model (fast on CPU)."));
    QVERIFY(panseg::db::sameModelDir(dialog.request().baseModel.toStdString(), PANSEG_MODELS_DIR "/pnet-msa-demo"));
    QVERIFY(panseg::ui::trainCommandArguments(dialog.request()).join(' ').contains("pnet-msa-demo"));
    // Typed: a registry id is passed as typed and resolved when the job starts.
    base->setEditText("3");
    QCOMPARE(dialog.request().baseModel, QString("3"));
    QCOMPARE(type->text(), QString("Registry id or folder: checked when the job starts."));
  }

  void dockListsJobsAndCancelsARunningOne()
  {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString dbDir = tmp.filePath("db");
    int64_t jobId = 0;
    QProcess sleeper; // stands in for `panseg train`
    sleeper.start("sleep", {"60"});
    QVERIFY(sleeper.waitForStarted());
    {
      panseg::db::StudyDatabase db(dbDir.toStdString());
      panseg::db::Job job;
      job.kind = "training";
      jobId = db.createJob(job);
      db.updateJob(jobId, panseg::db::JobState::Running, 0.25,
                   "epoch 1/4, loss 0.5000, val Dice 0.700, cpu");
      const QString folder = QString::fromStdString(panseg::db::jobFolder(db, jobId));
      QVERIFY(QDir().mkpath(folder));
      QFile pid(folder + "/pid");
      QVERIFY(pid.open(QIODevice::WriteOnly));
      pid.write(QByteArray::number(sleeper.processId()) + "\n");
    }
    panseg::ui::JobsDock dock(dbDir);
    dock.show();
    QCOMPARE(dock.model()->rowCount(), 1);
    QCOMPARE(dock.model()->index(0, panseg::db::JobTableModel::StateColumn).data().toString(),
             QString("running"));
    QCOMPARE(dock.model()->index(0, panseg::db::JobTableModel::ProgressColumn).data().toString(),
             QString("25%"));
    QVERIFY(dock.model()->isCancellable(0));
    auto* view = dock.findChild<QTableView*>();
    QVERIFY(view);
    view->selectRow(0);
    auto* cancel = dock.findChild<QPushButton*>("CancelJobButton");
    QVERIFY(cancel);
    cancel->click();
    QVERIFY(sleeper.waitForFinished(5000));
    QCOMPARE(sleeper.exitStatus(), QProcess::CrashExit); // ended by SIGTERM
    // Its process is gone: the row says so and Cancel no longer applies.
    dock.refresh();
    QVERIFY(!dock.model()->isCancellable(0));
    QVERIFY(dock.model()
                ->index(0, panseg::db::JobTableModel::StateColumn)
                .data()
                .toString()
                .contains("process gone"));
  }

  void dockDrawsTheSelectedJobsCurves()
  {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString dbDir = tmp.filePath("db");
    {
      panseg::db::StudyDatabase db(dbDir.toStdString());
      panseg::db::Job job;
      job.kind = "training";
      const int64_t jobId = db.createJob(job);
      const QString folder = QString::fromStdString(panseg::db::jobFolder(db, jobId));
      QVERIFY(QDir().mkpath(folder));
      QFile log(folder + "/progress.jsonl");
      QVERIFY(log.open(QIODevice::WriteOnly));
      log.write(R"({"event": "training", "epoch": 0, "epochs": 3, "iteration": 1, "iterations": 2})"
                "\n"
                R"({"event": "epoch", "epoch": 0, "epochs": 3, "loss": 0.8, "val_dice": 0.4})"
                "\n"
                R"({"event": "epoch", "epoch": 1, "epochs": 3, "loss": 0.5, "val_dice": 0.7})"
                "\n");
    }
    panseg::ui::JobsDock dock(dbDir);
    dock.show();
    auto* chart = dock.findChild<panseg::ui::TrainingCurveView*>("TrainingCurveView");
    QVERIFY(chart);
    QVERIFY(chart->curve().empty()); // nothing selected
    dock.selectRow(0);
    QCOMPARE(int(chart->curve().points.size()), 2);
    QCOMPARE(chart->curve().epochs, 3);
    QCOMPARE(chart->curve().points[1].valDice, 0.7);
    QCOMPARE(chart->curve().lastEpoch(), 3);
    QCOMPARE(chart->curve().maxLoss(), 0.8);

    // Rendered into an image: the loss (orange) and Dice (blue) lines are there.
    QImage img(400, 200, QImage::Format_RGB32);
    img.fill(Qt::white);
    {
      QPainter p(&img);
      chart->paintChart(p, img.rect());
    }
    const QRgb background = img.pixel(img.width() / 2, img.height() - 1);
    int differing = 0, orange = 0, blue = 0;
    for (int y = 0; y < img.height(); ++y)
      for (int x = 0; x < img.width(); ++x)
      {
        const QColor c = img.pixelColor(x, y);
        differing += img.pixel(x, y) != background;
        orange += c.red() > 180 && c.green() > 70 && c.green() < 130 && c.blue() < 80;
        blue += c.blue() > 150 && c.red() < 70 && c.green() > 90 && c.green() < 150;
      }
    QVERIFY2(differing > 500, qPrintable(QString::number(differing)));
    QVERIFY2(orange > 50, qPrintable(QString::number(orange)));
    QVERIFY2(blue > 50, qPrintable(QString::number(blue)));
    // An empty curve draws only its message, without crashing.
    chart->setCurve({});
    QPainter p(&img);
    chart->paintChart(p, img.rect());
  }
};

QTEST_MAIN(TstJobsGui)
#include "tst_jobs_gui.moc"
