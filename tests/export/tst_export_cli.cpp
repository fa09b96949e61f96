// `panseg volumes`, `panseg export` and `panseg export-nnunet` as a user runs them: the table
// printed and written agrees with `panseg volume` on the same files; errors are one line with
// exit status 1 (2 for usage) and leave no file.
#include "ExportTestUtil.h"
#include "../SharedData.h"

#include "database/Importer.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>

using namespace panseg;
using namespace panseg::db;
namespace fs = std::filesystem;

namespace
{
extest::Run runPanseg(const QStringList& args) { return extest::run(PANSEG_EXE, args); }

QString readAll(const QString& path)
{
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()) : QString();
}
} // namespace

class TestExportCli : public QObject
{
  Q_OBJECT

private slots:
  void volumesAgreeWithPansegVolume()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator/ct_small");
    QTemporaryDir t;
    const QString db = t.path() + "/db";
    const QString ctSmall = paths::shared("data/totalsegmentator/ct_small");
    const QString mrSmall = paths::shared("data/totalsegmentator/mr_small");
    QCOMPARE(runPanseg({ "import", ctSmall, mrSmall, "--db", db, "--center", "Basel" }).code, 0);

    // stdout table
    const auto table = runPanseg({ "volumes", "--db", db, "--label", "7" });
    QVERIFY2(table.code == 0, qPrintable(table.err));
    QVERIFY(table.out.contains("3 row(s)"));

    // CSV: every volume equals `panseg volume FILE --label 7 --json` on the imported file.
    const QString csv = t.path() + "/v.csv";
    const auto w = runPanseg({ "volumes", "--db", db, "--label", "7", "--out", csv });
    QVERIFY2(w.code == 0, qPrintable(w.err));
    const QStringList lines = readAll(csv).split('\n', Qt::SkipEmptyParts);
    QVERIFY(lines.first().startsWith("# Software: PanSeg Workstation " PANSEG_EXPECTED_VERSION));
    QStringList header;
    int checked = 0;
    for (const QString& line : lines)
    {
      if (line.startsWith('#'))
        continue;
      const QStringList cells = line.split(',');
      if (header.isEmpty())
      {
        header = cells;
        continue;
      }
      const QString sourceName = cells[header.indexOf("source_name")];
      const QString file = sourceName.mid(QString("import: ").size());
      const QString path = (file.contains("mr") ? mrSmall : ctSmall) + "/" + file;
      const auto v = runPanseg({ "volume", path, "--label", "7", "--json" });
      QCOMPARE(v.code, 0);
      const QJsonObject o = QJsonDocument::fromJson(v.out.toUtf8()).object();
      QCOMPARE(cells[header.indexOf("volume_ml")], QString::number(o["volume_ml"].toDouble(), 'f', 4));
      QCOMPARE(cells[header.indexOf("voxels")].toLongLong(), o["voxels"].toInteger());
      QCOMPARE(cells[header.indexOf("center")], QString("Basel"));
      ++checked;
    }
    QCOMPARE(checked, 3);

    // Without --label: the pancreas each mask's label table names (the imported TotalSegmentator
    // maps got their preset's table): the same volumes as --label 7, not the spleen's.
    const QString byName = t.path() + "/byname.csv";
    QCOMPARE(runPanseg({ "volumes", "--db", db, "--out", byName }).code, 0);
    const QString byNameCsv = readAll(byName);
    QVERIFY(byNameCsv.contains("# Label: pancreas of each mask's label table"));
    int rows = 0;
    for (const QString& line : byNameCsv.split('\n', Qt::SkipEmptyParts))
      if (!line.startsWith('#') && !line.startsWith("patient_id"))
      {
        QVERIFY2(line.contains(",7,"), qPrintable(line)); // the label column
        ++rows;
      }
    QCOMPARE(rows, 3);
    for (const char* ml : { ",17.3880", ",14.7960", ",31.7520" }) // 644, 548, 1176 voxels of 27 mm3
      QVERIFY2(byNameCsv.contains(ml), ml);
    const auto plain = runPanseg({ "volumes", "--db", db });
    QVERIFY2(plain.code == 0 && plain.out.contains("pancreas label of each mask"), qPrintable(plain.out));

    // panseg db labels names the pancreas; reduce-to-pancreas keeps only it.
    const auto labels = runPanseg({ "db", "labels", "1", "--db", db, "--json" });
    QVERIFY2(labels.code == 0, qPrintable(labels.err));
    QCOMPARE(QJsonDocument::fromJson(labels.out.toUtf8()).object()["pancreas_label"].toInt(), 7);
    const auto reduced = runPanseg({ "db", "reduce-to-pancreas", "1", "--db", db, "--json" });
    QVERIFY2(reduced.code == 0, qPrintable(reduced.err));
    const QJsonObject r = QJsonDocument::fromJson(reduced.out.toUtf8()).object();
    QVERIFY(r["mask_version"].toInt() > 1);
    QVERIFY(r["note"].toString().startsWith("reduced to the pancreas (label 7)"));
    const auto reducedLabels =
      runPanseg({ "db", "labels", QString::number(r["mask_version"].toInt()), "--db", db, "--json" });
    const QJsonObject rl = QJsonDocument::fromJson(reducedLabels.out.toUtf8()).object();
    QCOMPARE(rl["pancreas_label"].toInt(), 1);
    QCOMPARE(rl["labels"].toArray().size(), 1);
    QVERIFY(std::abs(rl["labels"].toArray()[0].toObject()["volume_ml"].toDouble() -
                     r["pancreas_volume_ml"].toDouble()) < 1e-9);
    // A preset as a new version: read as a v1 map, its pancreas is label 10.
    const auto asV1 = runPanseg({ "db", "labels", "1", "--db", db, "--preset", "totalsegmentator-v1", "--json" });
    QVERIFY2(asV1.code == 0, qPrintable(asV1.err));
    QCOMPARE(QJsonDocument::fromJson(asV1.out.toUtf8()).object()["pancreas_label"].toInt(), 10);
    const auto badPreset = runPanseg({ "db", "labels", "1", "--db", db, "--preset", "totalsegmentator" });
    QCOMPARE(badPreset.code, 2);
    QVERIFY(badPreset.err.contains("unknown --preset 'totalsegmentator'"));

    // XLSX and PDF from the command line (the PDF needs no display).
    const QString xlsx = t.path() + "/v.xlsx", pdf = t.path() + "/v.pdf";
    QCOMPARE(runPanseg({ "volumes", "--db", db, "--label", "7", "--out", xlsx }).code, 0);
    QVERIFY(readAll(xlsx).startsWith("PK"));
    const auto p = runPanseg({ "volumes", "--db", db, "--label", "7", "--modality", "CT", "--out", pdf });
    QVERIFY2(p.code == 0, qPrintable(p.err));
    if (!QStandardPaths::findExecutable("pdftotext").isEmpty())
    {
      const QString text = extest::run("pdftotext", { "-layout", pdf, "-" }).out;
      QVERIFY(text.contains("17.39") && text.contains("14.80"));
      QVERIFY(!text.contains("31.75")); // the MR is filtered out
    }
  }

  void badInput()
  {
    QTemporaryDir t;
    const QString db = t.path() + "/db";
    {
      StudyDatabase d(db.toStdString());
      const int64_t s = extest::addSeries(d, "P1", "2024-01-10", Modality::CT, "A", extest::grid());
      d.saveMaskVersion(s, extest::maskWith(extest::grid(), 100), extest::provenance(MaskSource::Reader));
    }
    auto fails = [&](const QStringList& args, int code, const QString& message) {
      const auto r = runPanseg(args);
      if (r.code != code || !r.err.contains(message) || r.err.count('\n') != 1)
        qWarning("%s -> %d: %s", qPrintable(args.join(' ')), r.code, qPrintable(r.err));
      return r.code == code && r.err.startsWith("panseg: error: ") && r.err.contains(message) &&
             r.err.count('\n') == 1;
    };
    const QString out = t.path() + "/v.csv";
    QVERIFY(fails({ "volumes", "--db", db, "--modality", "PET", "--out", out }, 1, "unknown modality 'PET'"));
    QVERIFY(fails({ "volumes", "--db", db, "--center", "Mars", "--out", out }, 1, "centers: A"));
    QVERIFY(fails({ "volumes", "--db", db, "--from", "yesterday", "--out", out }, 1, "yyyy-mm-dd"));
    QVERIFY(fails({ "volumes", "--db", db, "--label", "x", "--out", out }, 2, "--label must be a whole number from 0 to 255"));
    QVERIFY(fails({ "volumes", "--db", db, "--approved-only", "--out", out }, 1, "no mask volumes match"));
    QVERIFY(fails({ "volumes", "--db", db, "--approved-only" }, 1, "no mask volumes match"));
    QVERIFY(fails({ "volumes", "--db", db, "--out", t.path() + "/missing/v.csv" }, 1, "does not exist"));
    QVERIFY(fails({ "volumes", "--db", db, "--out", t.path() + "/v.txt" }, 1, ".csv, .xlsx, .pdf or .html"));
    QVERIFY(fails({ "volumes", "--db", db, "--colour", "red" }, 2, "unknown option --colour"));
    QVERIFY(fails({ "export", "--db", db, "--out", t.path() + "/m.nii.gz" }, 2, "--mask-version"));
    QVERIFY(fails({ "export", "--db", db, "--mask-version", "77", "--out", t.path() + "/m.nii.gz" }, 1,
                  "no mask version 77"));
    QVERIFY(fails({ "export-nnunet", "--db", db, "--out", t.path() + "/nn" }, 1, "approved mask"));
    QCOMPARE(QDir(t.path()).entryList(QDir::Files | QDir::Hidden | QDir::Dirs | QDir::NoDotAndDotDot),
             QStringList{ "db" });

    // And the working path: the draft mask exported as NIfTI, and the table as CSV.
    QCOMPARE(runPanseg({ "export", "--db", db, "--mask-version", "1", "--out", t.path() + "/m.nii.gz" }).code, 0);
    const auto v = runPanseg({ "volume", t.path() + "/m.nii.gz", "--json" });
    QVERIFY(QJsonDocument::fromJson(v.out.toUtf8()).object()["voxels"].toInt() == 100);
    QCOMPARE(runPanseg({ "volumes", "--db", db, "--out", out }).code, 0);
    QVERIFY(readAll(out).contains(",100,0.1600\n"));
  }
};

QTEST_GUILESS_MAIN(TestExportCli)
#include "tst_export_cli.moc"
