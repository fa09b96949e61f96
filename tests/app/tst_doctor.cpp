// Issue 19: `panseg doctor` through the real panseg, panseg-worker and panseg-train. The expected
// answers come from the build (the LibTorch version and whether it has CUDA, from CMake) and from
// this machine (/proc/cpuinfo, the hardware threads), never from the doctor itself.
#include "../ProcessRun.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

namespace
{
using testproc::Run;
using testproc::show;

Run panseg(const QStringList& args)
{
  return testproc::run(PANSEG_EXE, args, 300000);
}

QJsonObject parseObject(const QString& text)
{
  const QStringList lines = text.split('\n', Qt::SkipEmptyParts);
  return lines.isEmpty() ? QJsonObject() : QJsonDocument::fromJson(lines.last().toUtf8()).object();
}

QString canonical(const QString& path)
{
  return QFileInfo(path).canonicalFilePath();
}

QStringList cpuFlags()
{
  QFile f("/proc/cpuinfo");
  if (!f.open(QIODevice::ReadOnly))
    return {};
  for (const QByteArray& line : f.readAll().split('\n'))
    if (line.startsWith("flags"))
      return QString::fromLatin1(line.mid(line.indexOf(':') + 1)).split(' ', Qt::SkipEmptyParts);
  return {};
}
} // namespace

class TestDoctor : public QObject
{
  Q_OBJECT

private slots:
  void init()
  {
    for (const char* v : { "PANSEG_WORKER", "PANSEG_TRAIN", "PANSEG_TORCH_HELPERS_DIR" })
      qunsetenv(v);
  }

  /// JSON report: the helpers the build made, their LibTorch, CUDA's state and reason, the CPU, the
  /// smoke pass on the CPU.
  void jsonReport()
  {
    const Run r = panseg({ "doctor", "--json", "--device", "cpu", "--passes", "2" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonObject o = parseObject(r.out);
    QVERIFY2(!o.isEmpty(), qPrintable(show(r)));
    QCOMPARE(o["ok"].toBool(), true);
    const QJsonArray helpers = o["helpers"].toArray();
    QCOMPARE(helpers.size(), 2);
    const QString torchWorkerDir = QString(PANSEG_BUILD_DIR) + "/torch-worker";
    const QMap<QString, QString> built{ { "panseg-worker", PANSEG_WORKER_EXE }, { "panseg-train", PANSEG_TRAIN_EXE } };
    for (const QJsonValue& hv : helpers)
    {
      const QJsonObject h = hv.toObject();
      const QString name = h["name"].toString();
      QVERIFY2(built.contains(name), qPrintable(name));
      QCOMPARE(h["exit_code"].toInt(), 0);
      QCOMPARE(h["error"].toString(), QString());
      // Found without any variable: the build tree's own helper, unless a LibTorch build was put
      // beside this build or in the system-wide folder (both preferred on purpose).
      const bool otherTorch = QFileInfo::exists(torchWorkerDir + "/" + name) ||
                              QFileInfo::exists("/usr/local/lib/panseg/torch-worker/" + name);
      if (!otherTorch)
      {
        QCOMPARE(canonical(h["path"].toString()), canonical(built[name]));
        QCOMPARE(h["how"].toString(), QString("the build tree (models/ beside app/)"));
      }
      const QJsonObject rep = h["report"].toObject();
      QCOMPARE(rep["tool"].toString(), name);
      const QJsonObject torch = rep["libtorch"].toObject();
      if (!otherTorch)
        QCOMPARE(torch["version"].toString(), QString(PANSEG_EXPECTED_TORCH_VERSION));
      QVERIFY(QFileInfo(torch["library"].toString()).isFile());
      const QJsonObject cuda = rep["cuda"].toObject();
      if (!otherTorch && PANSEG_EXPECTED_TORCH_CUDA == 0)
      {
        QCOMPARE(torch["built_with_cuda"].toBool(), false);
        QCOMPARE(cuda["available"].toBool(), false);
        QVERIFY2(cuda["reason"].toString().contains("is CPU-only (built without CUDA)"),
                 qPrintable(cuda["reason"].toString()));
      }
      else if (!cuda["available"].toBool())
        QVERIFY(!cuda["reason"].toString().isEmpty());
      else
        QCOMPARE(cuda["reason"].toString(), QString());
      // The driver line follows /proc.
      QCOMPARE(cuda["nvidia_driver"].toString().isEmpty(), !QFileInfo::exists("/proc/driver/nvidia/version"));
      const QJsonObject cpu = rep["cpu"].toObject();
      QCOMPARE(cpu["hardware_threads"].toInt(), QThread::idealThreadCount());
      QVERIFY(cpu["torch_threads"].toInt() >= 1);
      const QStringList flags = cpuFlags();
      QStringList features;
      for (const QJsonValue& f : cpu["features"].toArray())
        features << f.toString();
      for (const char* f : { "avx2", "avx512f", "avx512_bf16" })
        QCOMPARE(features.contains(f), flags.contains(f));
      QCOMPARE(cpu["bf16_fast"].toBool(), flags.contains("avx512_bf16") || flags.contains("amx_bf16"));
      const QJsonArray smoke = rep["smoke"].toArray();
      QCOMPARE(smoke.size(), 1); // fp32 on the CPU (fp16 autocast only on CUDA)
      const QJsonObject s = smoke[0].toObject();
      QCOMPARE(s["device"].toString(), QString("cpu"));
      QCOMPARE(s["ok"].toBool(), true);
      QCOMPARE(s["finite"].toBool(), true);
      QCOMPARE(s["passes"].toInt(), 2);
      QVERIFY(s["median_ms"].toDouble() > 0.0);
      QVERIFY(rep["text"].toString().contains("Smoke pass:"));
    }
  }

  /// The readable report names each helper's path, why it was chosen, and the LibTorch version.
  void textReport()
  {
    qputenv("PANSEG_WORKER", PANSEG_WORKER_EXE);
    const Run r = panseg({ "doctor", "--device", "cpu", "--passes", "1" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QVERIFY2(r.out.contains(QString("panseg-worker: ") + PANSEG_WORKER_EXE), qPrintable(r.out));
    QVERIFY2(r.out.contains("chosen because: $PANSEG_WORKER"), qPrintable(r.out));
    QVERIFY2(r.out.contains(QString("LibTorch:        ") + PANSEG_EXPECTED_TORCH_VERSION), qPrintable(r.out));
    QVERIFY2(r.out.contains("panseg-train: "), qPrintable(r.out));
    QVERIFY2(r.out.contains("CUDA available:  "), qPrintable(r.out));
    QVERIFY2(r.out.contains("Smoke pass:      cpu, fp32"), qPrintable(r.out));
  }

  /// A folder named by $PANSEG_TORCH_HELPERS_DIR wins over the helpers installed with panseg (the
  /// way a CUDA worker is used by the .deb); one without the helper is passed over.
  void torchHelpersFolderPreferred()
  {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QVERIFY(QFile::link(PANSEG_WORKER_EXE, dir.filePath("panseg-worker")));
    qputenv("PANSEG_TORCH_HELPERS_DIR", QFile::encodeName(dir.path()));
    const Run r = panseg({ "doctor", "--json", "--device", "cpu", "--passes", "0" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonArray helpers = parseObject(r.out)["helpers"].toArray();
    QCOMPARE(helpers.size(), 2);
    QCOMPARE(helpers[0].toObject()["path"].toString(), dir.filePath("panseg-worker"));
    QCOMPARE(helpers[0].toObject()["how"].toString(), QString("$PANSEG_TORCH_HELPERS_DIR"));
    QVERIFY(helpers[1].toObject()["how"].toString() != "$PANSEG_TORCH_HELPERS_DIR");
    QVERIFY(helpers[1].toObject()["tried"].toArray().first().toString() == dir.filePath("panseg-train"));
  }

  /// --device cuda: on a machine where it cannot be honoured, panseg doctor fails and names the
  /// reason, the same reason the report gives and `panseg-worker predict --device cuda` gives.
  void cudaReasonNamed()
  {
    const Run probe = panseg({ "doctor", "--json", "--device", "cpu", "--passes", "0" });
    QVERIFY2(probe.code == 0, qPrintable(show(probe)));
    const QJsonObject cuda =
        parseObject(probe.out)["helpers"].toArray()[0].toObject()["report"].toObject()["cuda"].toObject();
    if (cuda["available"].toBool())
      QSKIP("CUDA is available to this worker's LibTorch: --device cuda is honoured here");
    const QString reason = cuda["reason"].toString();
    QVERIFY(!reason.isEmpty());

    const Run r = panseg({ "doctor", "--device", "cuda", "--passes", "0" });
    QVERIFY2(r.code == 1, qPrintable(show(r)));
    QVERIFY2(r.err.contains("panseg: error: panseg-worker: device 'cuda' requested but CUDA is not available: " +
                            reason),
             qPrintable(show(r)));
    QVERIFY2(r.out.contains("FAILED: device 'cuda' requested"), qPrintable(r.out)); // the report is still printed

    // The worker's own command and predict say the same.
    const Run w = testproc::run(PANSEG_WORKER_EXE, { "doctor", "--device", "cuda:0", "--passes", "0" });
    QCOMPARE(w.code, 1);
    QVERIFY2(w.err.contains("CUDA is not available: " + reason), qPrintable(show(w)));
    QTemporaryDir dir;
    const Run p = testproc::run(PANSEG_WORKER_EXE, { "predict", "--model", PANSEG_DEMO_MODEL, "--input",
                                                     dir.filePath("absent.nii.gz"), "--output",
                                                     dir.filePath("out.nii.gz"), "--device", "cuda" });
    QCOMPARE(p.code, 1);
    QVERIFY2(p.out.contains("\"event\":\"error\"") && p.out.contains("CUDA is not available: " + reason),
             qPrintable(show(p)));
    QVERIFY(!QFileInfo::exists(dir.filePath("out.nii.gz")));
    // And the trainer.
    const Run t = testproc::run(PANSEG_TRAIN_EXE, { "doctor", "--device", "cuda", "--passes", "0" });
    QCOMPARE(t.code, 1);
    QVERIFY2(t.err.contains("panseg-train: error: device 'cuda' requested but CUDA is not available: " + reason),
             qPrintable(show(t)));
  }

  void badOptions()
  {
    Run r = panseg({ "doctor", "--bogus" });
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("unknown option --bogus"), qPrintable(show(r)));
    r = panseg({ "doctor", "--device", "tpu" });
    QCOMPARE(r.code, 2);
    QVERIFY2(r.err.contains("--device must be auto, cpu, cuda or cuda:N, not 'tpu'"), qPrintable(show(r)));
    r = panseg({ "doctor", "--passes", "x" });
    QCOMPARE(r.code, 2);
    // A helper that cannot be found is named with the places looked at.
    qputenv("PANSEG_TRAIN", "/nonexistent/panseg-train");
    r = panseg({ "doctor", "--device", "cpu", "--passes", "0" });
    QCOMPARE(r.code, 1);
    QVERIFY2(r.err.contains("panseg-train: panseg-train not found (looked at /nonexistent/panseg-train ($PANSEG_TRAIN)"),
             qPrintable(show(r)));
    QVERIFY2(r.out.contains("panseg-train: NOT FOUND"), qPrintable(r.out));
  }
};

QTEST_GUILESS_MAIN(TestDoctor)
#include "tst_doctor.moc"
