// The `panseg` command line, run as a separate process: output, exit codes, files written.
#include "../ProcessRun.h"
#include "../SharedData.h"

#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

namespace
{
using testproc::Run;
using testproc::show;

Run panseg(const QStringList& args, int timeoutMs = 120000)
{
  return testproc::run(PANSEG_EXE, args, timeoutMs);
}
} // namespace

class TstCli : public QObject
{
  Q_OBJECT
private slots:
  void versionAndHelp()
  {
    Run r = panseg({ "--version" });
    QCOMPARE(r.code, 0);
    QCOMPARE(r.out.trimmed(), QString("panseg " PANSEG_EXPECTED_VERSION));
    r = panseg({ "--help" });
    QCOMPARE(r.code, 0);
    for (const char* cmd : { "info", "volume", "screenshot", "demo", "bench" })
      QVERIFY2(r.out.contains(QString("panseg ") + cmd), cmd);
    r = panseg({ "frobnicate" });
    QCOMPARE(r.code, 2);
    QVERIFY(r.err.contains("unknown command"));
  }

  void infoOnDicomSeries()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_dicom/example_ct_dicom");
    const Run r = panseg({ "info", paths::shared("data/totalsegmentator/ct_dicom/example_ct_dicom"), "--json" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
    QCOMPARE(o["size"].toArray().at(2).toInt(), 20);
    QCOMPARE(o["dicom_files"].toInt(), 20);
    QCOMPARE(o["modality"].toString(), QString("CT"));
    QCOMPARE(o["min"].toDouble(), -1024.0);
    QCOMPARE(o["max"].toDouble(), 1839.0);
    QVERIFY(std::abs(o["spacing_mm"].toArray().at(2).toDouble() - 2.0) < 1e-6);
  }

  void volumeMatchesSources_data()
  {
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("label");
    QTest::addColumn<QString>("expected");
    QTest::newRow("ct_full fast-fs") << "data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz" << 7 << "18.77";
    QTest::newRow("ct_small") << "data/totalsegmentator/ct_small/example_seg.nii.gz" << 7 << "17.39";
    QTest::newRow("mr") << "data/totalsegmentator/mr_small/example_seg_mr.nii.gz" << 7 << "31.75";
    QTest::newRow("v1 float64") << "data/totalsegmentator/ct_full/example_seg_v1_2022.nii.gz" << 10 << "22.09";
    QTest::newRow("word template") << "data/word/word_annotation_template_label.nii.gz" << 8 << "88.76";
  }
  void volumeMatchesSources()
  {
    QFETCH(QString, file);
    QFETCH(int, label);
    QFETCH(QString, expected);
    PANSEG_REQUIRE_SHARED(file);
    Run r = panseg({ "volume", paths::shared(file), "--label", QString::number(label) });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QVERIFY2(r.out.contains(expected + " mL"), qPrintable(show(r)));
    r = panseg({ "volume", paths::shared(file), "--label", QString::number(label), "--json" });
    const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
    QCOMPARE(QString::number(o["volume_ml"].toDouble(), 'f', 2), expected);
  }

  void badInputGivesOneLineErrors()
  {
    QTemporaryDir dir;
    QFile junk(dir.filePath("junk.nii.gz"));
    QVERIFY(junk.open(QIODevice::WriteOnly));
    junk.write("this is not gzip at all");
    junk.close();
    const QList<QStringList> cases = {
      { "info", dir.filePath("missing.nii") },
      { "info", junk.fileName() },
      { "info", dir.path() },
      { "volume", junk.fileName() },
    };
    for (const QStringList& c : cases)
    {
      const Run r = panseg(c);
      QVERIFY2(r.code == 1, qPrintable(c.join(' ') + "\n" + show(r)));
      QVERIFY2(r.err.startsWith("panseg: error: ") && r.err.trimmed().count('\n') == 0, qPrintable(show(r)));
    }
    Run r = panseg({ "volume" });
    QCOMPARE(r.code, 2);
    r = panseg({ "volume", junk.fileName(), "--label", "999" });
    QCOMPARE(r.code, 2);
  }

  void demoStudyIsWrittenAndDeterministic()
  {
    QTemporaryDir dir;
    const QString a = dir.filePath("a"), b = dir.filePath("b");
    Run r = panseg({ "demo", "--out", a, "--seed", "4" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    for (const char* f : { "ct.nii.gz", "ct_pancreas.nii.gz", "mr_t1.nii.gz", "mr_t2.nii.gz", "organs.nii.gz", "README.txt" })
      QVERIFY2(QFile::exists(a + "/" + f), f);
    QVERIFY(QFile(a + "/README.txt").open(QIODevice::ReadOnly));
    r = panseg({ "volume", a + "/ct_pancreas.nii.gz", "--label", "1", "--json" });
    const double ml = QJsonDocument::fromJson(r.out.toUtf8()).object()["volume_ml"].toDouble();
    QVERIFY2(ml >= 50 && ml <= 120, qPrintable(QString::number(ml)));
    r = panseg({ "demo", "--out", b, "--seed", "4" });
    QCOMPARE(r.code, 0);
    for (const char* f : { "ct.nii.gz", "organs.nii.gz" })
    {
      QFile fa(a + "/" + f), fb(b + "/" + f);
      QVERIFY(fa.open(QIODevice::ReadOnly) && fb.open(QIODevice::ReadOnly));
      QVERIFY2(fa.readAll() == fb.readAll(), f);
    }
    r = panseg({ "demo", "--out", "/proc/forbidden" });
    QCOMPARE(r.code, 1);
    QVERIFY(r.err.startsWith("panseg: error: "));
  }

  void agreementCommand()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_small");
    const Run r = panseg({ "agreement", paths::shared("data/totalsegmentator/ct_small/example_seg_fast.nii.gz"),
                           paths::shared("data/totalsegmentator/ct_small/example_seg.nii.gz"), "--label-a", "7",
                           "--label-b", "7", "--json" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
    for (const char* key : { "dice", "jaccard", "precision", "recall", "hd95_mm", "hd_mm", "assd_mm", "kappa",
                             "kappa_bbox", "volume_a_ml", "volume_b_ml", "vpe", "interslice_hd_a_mm",
                             "interslice_hd_b_mm" })
      QVERIFY2(o.contains(key), key);
    QVERIFY(o["interslice_hd_a_mm"].toDouble() > 0 && o["interslice_hd_b_mm"].toDouble() > 0);
    QCOMPARE(QString::number(o["dice"].toDouble(), 'f', 3), QString("0.809")); // SOURCES.md
    QCOMPARE(QString::number(o["volume_a_ml"].toDouble(), 'f', 2), QString("14.80"));
    QCOMPARE(QString::number(o["volume_b_ml"].toDouble(), 'f', 2), QString("17.39"));
    const Run bad = panseg({ "agreement", paths::shared("data/totalsegmentator/ct_small/example_seg.nii.gz"),
                             paths::shared("data/totalsegmentator/ct_full/example_seg_fast_force_split.nii.gz") });
    QCOMPARE(bad.code, 1);
    QVERIFY2(bad.err.contains("size differs"), qPrintable(show(bad)));
  }

  void importIntoStudyDatabase()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator");
    QTemporaryDir dir;
    const QString db = dir.filePath("db");
    Run r = panseg({ "import", paths::shared("data/totalsegmentator"), "--db", db, "--json" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
    QVERIFY2(o["imported_series"].toArray().size() == 4 && o["imported_masks"].toArray().size() == 7, qPrintable(r.out));
    r = panseg({ "import", paths::shared("data/totalsegmentator"), "--db", db, "--json" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    o = QJsonDocument::fromJson(r.out.toUtf8()).object();
    QCOMPARE(o["imported_series"].toArray().size(), 0);
    QCOMPARE(o["duplicate_series"].toArray().size(), 4);
    r = panseg({ "db", "list", "--db", db, "--modality", "MRI", "--json" });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QCOMPARE(QJsonDocument::fromJson(r.out.toUtf8()).object()["series"].toArray().size(), 1);
    r = panseg({ "import", dir.filePath("nothing-here"), "--db", db });
    QCOMPARE(r.code, 1);
    QVERIFY(r.err.startsWith("panseg: error: "));
  }

  void screenshotShowsTheMask()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_small");
    QTemporaryDir dir;
    const QString out = dir.filePath("axial.png");
    // slice 8 of ct_small holds pancreas voxels (label 7)
    const Run r = panseg({ "screenshot", paths::shared("data/totalsegmentator/ct_small/example_ct_sm.nii.gz"), "--mask",
                           paths::shared("data/totalsegmentator/ct_small/example_seg.nii.gz"), "--label", "7", "--view",
                           "axial", "--slice", "8", "--out", out });
    QVERIFY2(r.code == 0, qPrintable(show(r)));
    QImage img(out);
    QVERIFY(!img.isNull());
    QVERIFY(img.width() > 100 && img.height() > 100);
    // overlay pixels: strongly coloured (not grey) pixels exist
    int coloured = 0;
    for (int y = 0; y < img.height(); ++y)
      for (int x = 0; x < img.width(); ++x)
      {
        const QColor c = img.pixelColor(x, y);
        if (c.saturation() > 120 && c.value() > 120)
          ++coloured;
      }
    QVERIFY2(coloured > 20, qPrintable(QString("coloured pixels: %1").arg(coloured)));

    const QString all = dir.filePath("all.png");
    const Run r2 = panseg({ "screenshot", paths::shared("data/totalsegmentator/ct_small/example_ct_sm.nii.gz"), "--mask",
                            paths::shared("data/totalsegmentator/ct_small/example_seg.nii.gz"), "--out", all });
    QVERIFY2(r2.code == 0, qPrintable(show(r2)));
    QVERIFY(QImage(all).width() >= 800);

    // a mask on another grid is refused with the difference named
    const Run bad = panseg({ "screenshot", paths::shared("data/totalsegmentator/ct_full/example_ct.nii.gz"), "--mask",
                             paths::shared("data/totalsegmentator/ct_small/example_seg.nii.gz"), "--out",
                             dir.filePath("bad.png") });
    QCOMPARE(bad.code, 1);
    QVERIFY2(bad.err.contains("does not match the image grid"), qPrintable(show(bad)));
    QVERIFY(!QFile::exists(dir.filePath("bad.png")));
  }
};

QTEST_GUILESS_MAIN(TstCli)
#include "tst_cli.moc"
