// Issue 14: a small corpus of malformed files kept in the repository (tests/fuzz/corpus; made by
// tests/fuzz/make_corpus.py) read in-process, so that the sanitizer build (CMakePresets.json
// "asan", run by .ci/run) sees every parser's reaction to it:
//  - images (NIfTI, MetaImage, NRRD, DICOM): readImage and readMask refuse each with a
//    panseg::Error of one line naming the file, never another exception, a crash or a hang;
//  - model packages: each broken model.json / plans.json / label / plausibility declaration is
//    refused by the package readers that use it, with a panseg::Error or a catalog entry's error.
// In the normal build the same test runs unsanitised; tests/io/tst_io_hostile covers the `panseg`
// executable with generated damage.
#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "database/LabelTables.h"
#include "database/registry/ModelCatalog.h"
#include "database/studies/Plausibility.h"

#include <QDir>
#include <QFileInfo>
#include <QtTest>

#include <functional>

using namespace panseg;

namespace
{
const QString kCorpus = QStringLiteral(PANSEG_FUZZ_CORPUS);

/// "" when `fn` threw a one-line panseg::Error containing `mustName`; otherwise what went wrong.
QString refusal(const std::function<void()>& fn, const QString& mustName, QString* message = nullptr)
{
  try
  {
    fn();
    return "accepted";
  }
  catch (const panseg::Error& e)
  {
    const QString m = QString::fromUtf8(e.what());
    if (message)
      *message = m;
    if (m.trimmed().isEmpty() || m.contains('\n'))
      return "message is not one line: " + m;
    if (!mustName.isEmpty() && !m.contains(mustName))
      return "message does not name " + mustName + ": " + m;
    return {};
  }
  catch (const std::exception& e)
  {
    return QString("not a panseg::Error (") + typeid(e).name() + "): " + e.what();
  }
}
} // namespace

class TestFuzzCorpus : public QObject
{
  Q_OBJECT
private slots:
  void imagesAreRefused()
  {
    const QFileInfoList files = QDir(kCorpus + "/images").entryInfoList(QDir::Files, QDir::Name);
    QVERIFY2(files.size() >= 20, qPrintable(kCorpus));
    for (const QFileInfo& f : files)
    {
      const std::string path = f.absoluteFilePath().toStdString();
      QString message;
      const QString image = refusal([&] { readImage(path); }, f.fileName(), &message);
      QVERIFY2(image.isEmpty(), qPrintable(f.fileName() + " (readImage): " + image));
      const QString mask = refusal([&] { readMask(path); }, f.fileName());
      QVERIFY2(mask.isEmpty(), qPrintable(f.fileName() + " (readMask): " + mask));
      qInfo("%s: %s", qPrintable(f.fileName()), qPrintable(message));
    }
  }

  void packagesAreRefused()
  {
    const QFileInfoList dirs = QDir(kCorpus + "/packages").entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
    QVERIFY2(dirs.size() >= 8, qPrintable(kCorpus));
    for (const QFileInfo& d : dirs)
    {
      const std::string dir = d.absoluteFilePath().toStdString();
      // Every reader either refuses cleanly or reads; at least one of them refuses.
      QStringList refusedBy;
      const db::ModelCatalogEntry entry = db::describeModelPackage(dir);
      if (!entry.usable())
      {
        QVERIFY2(!QString::fromStdString(entry.error).contains('\n'), entry.error.c_str());
        refusedBy << "catalog";
      }
      for (const auto& [what, fn] :
           std::vector<std::pair<QString, std::function<void()>>>{
             { "labels", [&] { db::labelTableOfModelPackage(dir); } },
             { "plausibility", [&] { db::modelPlausibilityOfPackage(dir); } } })
      {
        const QString r = refusal(fn, {});
        if (r.isEmpty())
          refusedBy << what;
        else
          QVERIFY2(r == "accepted", qPrintable(d.fileName() + " (" + what + "): " + r));
      }
      QVERIFY2(!refusedBy.isEmpty(), qPrintable(d.fileName() + " was accepted by every package reader"));
      qInfo("%s: refused by %s", qPrintable(d.fileName()), qPrintable(refusedBy.join(", ")));
    }
  }
};

QTEST_GUILESS_MAIN(TestFuzzCorpus)
#include "tst_fuzz_corpus.moc"
