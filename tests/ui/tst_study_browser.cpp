// The study browser driven like a user would, on a real database in a temporary folder:
// search box, modality and center filters, selecting a series and its mask versions, opening,
// importing through the progress dialog (one good and one corrupt file; cancelling), and saving
// a new mask version. Runs under xvfb-run with xcb (see tests/CMakeLists.txt).
#include "../SharedData.h"
#include "core/Error.h"
#include "core/io/ImageIO.h"
#include "database/Importer.h"
#include "database/itemmodels/SeriesTableModel.h"
#include "ui/MaskListModel.h"
#include "ui/StudyBrowser.h"

#include <QApplication>
#include <QComboBox>
#include <QDialog>
#include <QHeaderView>
#include <QLineEdit>
#include <QProgressDialog>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <random>

using namespace panseg;
using namespace panseg::db;
using panseg::ui::MaskListModel;
using panseg::ui::StudyBrowser;

namespace
{
Geometry grid()
{
  Geometry g;
  g.size = { 20, 16, 6 };
  g.spacingMm = { 1.5, 1.5, 3.0 };
  g.originMm = { -10.0, 20.0, 30.0 };
  return g;
}

// Rounded noise between -1000 and 1000: read back as an image, never as a label map.
Image noiseImage(unsigned seed)
{
  Image img(grid());
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> v(-1000.f, 1000.f);
  for (auto& x : img.voxels)
    x = std::round(v(rng));
  return img;
}

// A box of label 1 (and a few voxels of label 2 when `two`).
LabelMask boxMask(int x0, int x1, bool two = false)
{
  LabelMask m(grid());
  for (int z = 1; z < 4; ++z)
    for (int y = 2; y < 8; ++y)
      for (int x = x0; x < x1; ++x)
        m.at(x, y, z) = 1;
  if (two)
    m.at(15, 12, 4) = 2;
  return m;
}

QString cell(const QAbstractItemModel* m, int row, int column) { return m->index(row, column).data().toString(); }

int visibleRows(const StudyBrowser& b) { return b.seriesView()->model()->rowCount(); }

// Clicks the centre of a row of a table view.
void clickRow(QTableView* view, int row, bool doubleClick = false)
{
  const QModelIndex index = view->model()->index(row, 1);
  view->scrollTo(index);
  const QPoint p = view->visualRect(index).center();
  QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, p);
  if (doubleClick)
    QTest::mouseDClick(view->viewport(), Qt::LeftButton, {}, p);
}

int proxyRowOf(const StudyBrowser& b, int64_t seriesId)
{
  const QAbstractItemModel* m = b.seriesView()->model();
  for (int r = 0; r < m->rowCount(); ++r)
    if (m->index(r, 0).data(SeriesTableModel::SeriesIdRole).toLongLong() == seriesId)
      return r;
  return -1;
}

void chooseCombo(QComboBox* combo, const QString& text)
{
  const int i = combo->findText(text);
  QVERIFY2(i >= 0, qPrintable(text));
  combo->setCurrentIndex(i);
}

QPushButton* cancelButtonOf(QProgressDialog* d)
{
  for (QPushButton* b : d->findChildren<QPushButton*>())
    if (b->isVisible())
      return b;
  return nullptr;
}
} // namespace

class TstStudyBrowser : public QObject
{
  Q_OBJECT

  QTemporaryDir m_tmp;
  QString m_db;  // data folder
  QString m_src; // source files
  int64_t m_alpha = 0, m_beta = 0, m_gamma = 0;
  int m_sharedSeries = 0;

  std::string src(const QString& rel) const { return (m_src + "/" + rel).toStdString(); }

private slots:
  void initTestCase()
  {
    QVERIFY(m_tmp.isValid());
    m_db = m_tmp.path() + "/db";
    m_src = m_tmp.path() + "/src";
    for (const char* sub : { "siteA", "siteB", "incoming", "many" })
      QVERIFY(QDir().mkpath(m_src + "/" + sub));
    writeImage(noiseImage(1), src("siteA/ct_alpha.nii.gz"));
    writeMask(boxMask(2, 7), src("siteA/ct_alpha_seg.nii.gz"));
    writeImage(noiseImage(2), src("siteA/mr_t2_beta.nii.gz"));
    writeMask(boxMask(3, 12, true), src("siteA/mr_t2_beta_seg.nii.gz"));
    writeImage(noiseImage(3), src("siteB/ct_gamma.nii.gz"));
    // For the import through the browser: one good file, one that is not a NIfTI file.
    writeImage(noiseImage(4), src("incoming/ct_delta.nii.gz"));
    std::ofstream(src("incoming/broken.nii.gz")) << "this is not a NIfTI file";
    for (unsigned i = 0; i < 6; ++i)
      writeImage(noiseImage(10 + i), src(QString("many/ct_many%1.nii.gz").arg(i)));

    // The database as an earlier session left it (import by the library, one site each).
    StudyDatabase db(m_db.toStdString());
    ImportOptions a, b;
    a.center = "Site A";
    b.center = "Site B";
    const ImportReport ra = importPaths(db, { src("siteA") }, a);
    QCOMPARE(ra.importedSeries.size(), size_t(2));
    QCOMPARE(ra.importedMasks.size(), size_t(2));
    const ImportReport rb = importPaths(db, { src("siteB") }, b);
    QCOMPARE(rb.importedSeries.size(), size_t(1));
    if (paths::haveShared("data/totalsegmentator"))
    {
      const ImportReport rt = importPaths(db, { paths::shared("data/totalsegmentator").toStdString() });
      QVERIFY(rt.failures.empty());
      m_sharedSeries = int(rt.importedSeries.size());
    }
    for (const SeriesRecord& s : db.listSeries())
    {
      if (s.patientName == "ct_alpha")
        m_alpha = s.id;
      else if (s.patientName == "mr_t2_beta")
        m_beta = s.id;
      else if (s.patientName == "ct_gamma")
        m_gamma = s.id;
    }
    QVERIFY(m_alpha && m_beta && m_gamma);
    QCOMPARE(db.series(m_beta)->modality, Modality::MriT2w);
  }

  void tableFiltersAndSearch()
  {
    StudyBrowser b;
    QVERIFY2(b.openDatabase(m_db), qPrintable(b.lastError()));
    b.resize(1000, 700);
    b.show();
    QVERIFY(QTest::qWaitForWindowExposed(&b));
    StudyDatabase db(m_db.toStdString());
    const std::vector<SeriesRecord> all = db.listSeries();
    QCOMPARE(int(all.size()), 3 + m_sharedSeries);
    QCOMPARE(visibleRows(b), int(all.size()));

    // The row of ct_alpha shows its patient, modality, center, masks, latest state and volume.
    const QAbstractItemModel* m = b.seriesView()->model();
    const int row = proxyRowOf(b, m_alpha);
    QVERIFY(row >= 0);
    QCOMPARE(cell(m, row, SeriesTableModel::PatientColumn), QString("ct_alpha"));
    QCOMPARE(cell(m, row, SeriesTableModel::ModalityColumn), QString("CT"));
    QCOMPARE(cell(m, row, SeriesTableModel::CenterColumn), QString("Site A"));
    QCOMPARE(cell(m, row, SeriesTableModel::MaskCountColumn), QString("1"));
    QCOMPARE(cell(m, row, SeriesTableModel::LatestStateColumn), QString("draft"));
    QCOMPARE(cell(m, row, SeriesTableModel::VolumeColumn), QString::number(boxMask(2, 7).volumeMl(0), 'f', 2));

    // Free-text search, typed.
    b.searchEdit()->setFocus();
    QTest::keyClicks(b.searchEdit(), "alpha");
    QCOMPARE(visibleRows(b), 1);
    QCOMPARE(m->index(0, 0).data(SeriesTableModel::SeriesIdRole).toLongLong(), qlonglong(m_alpha));
    b.searchEdit()->selectAll();
    QTest::keyClicks(b.searchEdit(), "site t2");
    QCOMPARE(visibleRows(b), 1); // every word must match: beta is the T2 series of a site
    QTest::keyClick(b.searchEdit(), Qt::Key_A, Qt::ControlModifier);
    QTest::keyClick(b.searchEdit(), Qt::Key_Delete);
    QCOMPARE(visibleRows(b), int(all.size()));

    // Modality filter.
    auto count = [&](auto pred) { return int(std::count_if(all.begin(), all.end(), pred)); };
    chooseCombo(b.modalityCombo(), "CT");
    QCOMPARE(visibleRows(b), count([](const SeriesRecord& s) { return s.modality == Modality::CT; }));
    QVERIFY(visibleRows(b) >= 2);
    chooseCombo(b.modalityCombo(), "MRI (all)");
    QCOMPARE(visibleRows(b), count([](const SeriesRecord& s) {
               return s.modality == Modality::Mri || s.modality == Modality::MriT1w || s.modality == Modality::MriT2w;
             }));
    chooseCombo(b.modalityCombo(), "MRI-T2W");
    QVERIFY(proxyRowOf(b, m_beta) >= 0);
    QVERIFY(proxyRowOf(b, m_alpha) < 0);

    // Center filter, combined with the modality filter.
    chooseCombo(b.modalityCombo(), "All modalities");
    chooseCombo(b.centerCombo(), "Site B");
    QCOMPARE(visibleRows(b), count([](const SeriesRecord& s) { return s.center == "Site B"; }));
    QCOMPARE(visibleRows(b), 1);
    chooseCombo(b.centerCombo(), "Site A");
    QCOMPARE(visibleRows(b), 2);
    chooseCombo(b.modalityCombo(), "CT");
    QCOMPARE(visibleRows(b), 1);
    chooseCombo(b.modalityCombo(), "All modalities");
    chooseCombo(b.centerCombo(), "All centers");
    QCOMPARE(visibleRows(b), int(all.size()));

    // Sorting by a header click: by patient, both ways.
    QTest::mouseClick(b.seriesView()->horizontalHeader()->viewport(), Qt::LeftButton, {},
                      QPoint(b.seriesView()->horizontalHeader()->sectionViewportPosition(SeriesTableModel::PatientColumn) + 5, 5));
    const QString first = cell(m, 0, SeriesTableModel::PatientColumn);
    const QString last = cell(m, m->rowCount() - 1, SeriesTableModel::PatientColumn);
    QVERIFY(first != last);
    b.seriesView()->sortByColumn(SeriesTableModel::PatientColumn,
                                 b.seriesView()->horizontalHeader()->sortIndicatorOrder() == Qt::AscendingOrder
                                     ? Qt::DescendingOrder
                                     : Qt::AscendingOrder);
    QCOMPARE(cell(m, 0, SeriesTableModel::PatientColumn), last);
  }

  void masksOfSelectedSeriesAndOpen()
  {
    StudyBrowser b;
    QVERIFY(b.openDatabase(m_db));
    b.setOpenLatestMask(false);
    b.resize(1000, 700);
    b.show();
    QVERIFY(QTest::qWaitForWindowExposed(&b));
    QSignalSpy openSeries(&b, &StudyBrowser::openSeriesRequested);
    QSignalSpy openMask(&b, &StudyBrowser::openMaskRequested);

    QVERIFY(!b.openButton()->isEnabled());
    clickRow(b.seriesView(), proxyRowOf(b, m_beta));
    QCOMPARE(b.selectedSeriesId(), m_beta);
    QVERIFY(b.openButton()->isEnabled());
    const MaskListModel* masks = b.maskModel();
    QCOMPARE(masks->rowCount(), 1);
    QCOMPARE(b.maskView()->model()->rowCount(), 1);
    QCOMPARE(cell(masks, 0, MaskListModel::SourceColumn), QString("import"));
    QCOMPARE(cell(masks, 0, MaskListModel::StateColumn), QString("draft"));
    QCOMPARE(cell(masks, 0, MaskListModel::VolumeColumn), QString::number(boxMask(3, 12, true).volumeMl(0), 'f', 2));
    QCOMPARE(cell(masks, 0, MaskListModel::ParentColumn), QString());
    QVERIFY(!cell(masks, 0, MaskListModel::AuthorColumn).isEmpty());
    QVERIFY(QRegularExpression("^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d$").match(cell(masks, 0, MaskListModel::DateColumn)).hasMatch());

    // Another series: the list follows; a series without masks empties it.
    clickRow(b.seriesView(), proxyRowOf(b, m_gamma));
    QCOMPARE(b.maskModel()->rowCount(), 0);
    QVERIFY(!b.showMaskButton()->isEnabled());
    clickRow(b.seriesView(), proxyRowOf(b, m_alpha));
    QCOMPARE(b.maskModel()->rowCount(), 1);

    // Open button and double click request the series.
    QTest::mouseClick(b.openButton(), Qt::LeftButton);
    QCOMPARE(openSeries.count(), 1);
    QCOMPARE(openSeries.at(0).at(0).value<int64_t>(), m_alpha);
    QCOMPARE(openMask.count(), 0); // setOpenLatestMask(false)
    clickRow(b.seriesView(), proxyRowOf(b, m_gamma), true);
    QCOMPARE(openSeries.count(), 2);
    QCOMPARE(openSeries.at(1).at(0).value<int64_t>(), m_gamma);
    QCOMPARE(b.openedSeriesId(), m_gamma);

    // Show a mask of another series: the series is requested first, then the mask.
    clickRow(b.seriesView(), proxyRowOf(b, m_alpha));
    clickRow(b.maskView(), 0);
    QVERIFY(b.showMaskButton()->isEnabled());
    const int64_t maskId = b.selectedMaskId();
    QVERIFY(maskId > 0);
    QTest::mouseClick(b.showMaskButton(), Qt::LeftButton);
    QCOMPARE(openSeries.count(), 3);
    QCOMPARE(openSeries.at(2).at(0).value<int64_t>(), m_alpha);
    QCOMPARE(openMask.count(), 1);
    QCOMPARE(openMask.at(0).at(0).value<int64_t>(), m_alpha);
    QCOMPARE(openMask.at(0).at(1).value<int64_t>(), maskId);
    QCOMPARE(b.openedMaskId(), maskId);

    if (qEnvironmentVariableIsSet("PANSEG_TEST_SCREENSHOTS")) // for a look at the layout
      b.grab().save(qEnvironmentVariable("PANSEG_TEST_SCREENSHOTS") + "/study_browser.png");

    // What the main window does with the requests.
    const Image img = b.loadSeries(m_alpha);
    QVERIFY(img.voxels == noiseImage(1).voxels);
    const LabelMask mask = b.loadMask(maskId);
    QVERIFY(mask.voxels == boxMask(2, 7).voxels);
    bool threw = false;
    try
    {
      (void)b.loadSeries(999999);
    }
    catch (const panseg::Error&)
    {
      threw = true;
    }
    QVERIFY(threw);

    // With the default (open latest mask), opening also requests the newest version.
    b.setOpenLatestMask(true);
    clickRow(b.seriesView(), proxyRowOf(b, m_beta), true);
    QCOMPARE(openSeries.last().at(0).value<int64_t>(), m_beta);
    QCOMPARE(openMask.count(), 2);
    QCOMPARE(openMask.last().at(1).value<int64_t>(), b.maskModel()->maskAt(0).id);
  }

  void importThroughTheBrowser()
  {
    StudyBrowser b;
    QVERIFY(b.openDatabase(m_db));
    b.resize(1000, 700);
    b.show();
    QVERIFY(QTest::qWaitForWindowExposed(&b));
    QTest::keyClicks(b.searchEdit(), "zzz-no-match");
    QCOMPARE(visibleRows(b), 0);
    const int before = b.seriesModel()->rowCount();
    QSignalSpy finished(&b, &StudyBrowser::importFinished);

    QVERIFY(b.importPaths({ m_src + "/incoming" }));
    QVERIFY(b.isImporting());
    QVERIFY(!b.importButton()->isEnabled());
    QVERIFY(!b.importPaths({ m_src + "/incoming" })); // one at a time
    QVERIFY(b.importProgressDialog());
    QVERIFY(b.importProgressDialog()->isVisible());
    QVERIFY(b.waitForImport());
    QCOMPARE(finished.count(), 1);
    QCOMPARE(finished.at(0).at(0).toBool(), true);
    QVERIFY(!b.importProgressDialog());
    QVERIFY(b.importButton()->isEnabled());

    // The table grew by one and shows the new series (the filter hiding it was cleared).
    const ImportReport& r = b.lastImportReport();
    QCOMPARE(r.importedSeries.size(), size_t(1));
    QCOMPARE(b.seriesModel()->rowCount(), before + 1);
    QCOMPARE(visibleRows(b), before + 1);
    QCOMPARE(b.selectedSeriesId(), r.importedSeries[0]);
    QCOMPARE(b.seriesModel()->seriesAt(b.seriesModel()->rowOfSeries(r.importedSeries[0])).patientName,
             std::string("ct_delta"));

    // The corrupt file is reported with its reason.
    QCOMPARE(r.failures.size(), size_t(1));
    QVERIFY(QString::fromStdString(r.failures[0].path).endsWith("broken.nii.gz"));
    QDialog* report = b.importReportDialog();
    QVERIFY(report);
    QVERIFY(report->isVisible());
    auto* issues = report->findChild<QTableWidget*>("importIssues");
    QVERIFY(issues);
    QCOMPARE(issues->rowCount(), 1);
    QCOMPARE(issues->item(0, 0)->text(), QString("failed"));
    QCOMPARE(issues->item(0, 1)->text(), QString("broken.nii.gz"));
    QCOMPARE(issues->item(0, 2)->text(), QString::fromStdString(r.failures[0].reason));
    QVERIFY(!issues->item(0, 2)->text().isEmpty());
    report->close();

    // Importing the same folder again adds nothing (duplicates by content hash).
    QVERIFY(b.importPaths({ m_src + "/incoming" }));
    QVERIFY(b.waitForImport());
    QCOMPARE(finished.count(), 2);
    QCOMPARE(finished.at(1).at(0).toBool(), false);
    QCOMPARE(b.lastImportReport().duplicateSeries.size(), size_t(1));
    QCOMPARE(b.seriesModel()->rowCount(), before + 1);
  }

  void cancelImport()
  {
    StudyBrowser b;
    QVERIFY(b.openDatabase(m_db));
    b.show();
    QVERIFY(QTest::qWaitForWindowExposed(&b));
    const int before = b.seriesModel()->rowCount();
    QVERIFY(b.importPaths({ m_src + "/many" }));
    QProgressDialog* progress = b.importProgressDialog();
    QVERIFY(progress);
    QPushButton* cancel = cancelButtonOf(progress);
    QVERIFY(cancel);
    QTest::mouseClick(cancel, Qt::LeftButton);
    QVERIFY(b.waitForImport());
    const ImportReport& r = b.lastImportReport();
    qInfo("cancelled: %s, %zu of 6 imported", r.cancelled ? "yes" : "no", r.importedSeries.size());
    // Cancelled before the end (unless the worker was faster than the click), and what was
    // imported is complete and in the table.
    QVERIFY(r.cancelled || r.importedSeries.size() == 6);
    QCOMPARE(b.seriesModel()->rowCount(), before + int(r.importedSeries.size()));
    StudyDatabase db(m_db.toStdString());
    QCOMPARE(db.integrityCheck(), std::string("ok"));
    QVERIFY(db.verifyFiles().empty());
    if (r.cancelled)
      QVERIFY(b.lastImportReport().importedSeries.size() < 6);
  }

  void saveNewMaskVersion()
  {
    StudyBrowser b;
    QVERIFY(b.openDatabase(m_db));
    b.show();
    QVERIFY(QTest::qWaitForWindowExposed(&b));
    QSignalSpy saved(&b, &StudyBrowser::maskVersionSaved);
    QVERIFY(b.selectSeries(m_alpha));
    QTest::mouseClick(b.openButton(), Qt::LeftButton); // opens the series and its latest mask
    const int64_t parent = b.openedMaskId();
    QVERIFY(parent > 0);
    const int versionsBefore = b.maskModel()->rowCount();

    LabelMask edited = b.loadMask(parent);
    for (int x = 10; x < 14; ++x)
      edited.at(x, 10, 2) = 1; // the reader paints 4 more voxels
    const int64_t id = b.saveMaskVersion(m_alpha, edited, b.openedMaskId());
    QVERIFY2(id > 0, qPrintable(b.lastError()));
    QCOMPARE(saved.count(), 1);
    QCOMPARE(saved.at(0).at(1).value<int64_t>(), id);
    QCOMPARE(b.openedMaskId(), id); // the next save is edited from this one

    // The new version is listed, selected, with its parent; the series row counts it.
    const MaskListModel* masks = b.maskModel();
    QCOMPARE(masks->rowCount(), versionsBefore + 1);
    const int row = masks->rowOfMask(id);
    QCOMPARE(row, masks->rowCount() - 1);
    QCOMPARE(b.selectedMaskId(), id);
    QCOMPARE(cell(masks, row, MaskListModel::ParentColumn), QString::number(parent));
    QCOMPARE(cell(masks, row, MaskListModel::SourceColumn), QString("reader"));
    QCOMPARE(cell(masks, row, MaskListModel::StateColumn), QString("draft"));
    QCOMPARE(cell(masks, row, MaskListModel::VolumeColumn), QString::number(edited.volumeMl(0), 'f', 2));
    const QAbstractItemModel* series = b.seriesView()->model();
    const int srow = proxyRowOf(b, m_alpha);
    QCOMPARE(cell(series, srow, SeriesTableModel::MaskCountColumn), QString::number(versionsBefore + 1));
    QCOMPARE(cell(series, srow, SeriesTableModel::VolumeColumn), QString::number(edited.volumeMl(0), 'f', 2));

    // Both versions stay readable, each with its own content.
    QVERIFY(b.loadMask(id).voxels == edited.voxels);
    QVERIFY(b.loadMask(parent).voxels == boxMask(2, 7).voxels);

    // A mask on another grid is refused with a message, nothing is added.
    LabelMask wrong(Geometry{});
    wrong.geometry.size = { 4, 4, 4 };
    wrong.voxels.assign(64, 1);
    QCOMPARE(b.saveMaskVersion(m_alpha, wrong, id), int64_t(0));
    QVERIFY(!b.lastError().isEmpty());
    QCOMPARE(b.maskModel()->rowCount(), versionsBefore + 1);
    for (QWidget* w : QApplication::topLevelWidgets())
      if (w->objectName() == "studyBrowserError")
        w->close();
  }

  void totalSegmentatorThroughTheBrowser()
  {
    PANSEG_REQUIRE_SHARED("data/totalsegmentator");
    QTemporaryDir dir;
    StudyBrowser b;
    QVERIFY(b.openDatabase(dir.path() + "/db"));
    b.resize(1100, 700);
    b.show();
    QVERIFY(QTest::qWaitForWindowExposed(&b));
    QVERIFY(b.importPaths({ paths::shared("data/totalsegmentator") }));
    QVERIFY(b.waitForImport(300000));
    QVERIFY(b.lastImportReport().failures.empty());
    QCOMPARE(b.seriesModel()->rowCount(), 4);
    int masks = 0;
    int64_t dicom = 0;
    for (int r = 0; r < b.seriesModel()->rowCount(); ++r)
    {
      const SeriesRecord& s = b.seriesModel()->seriesAt(r);
      masks += s.maskCount;
      if (s.format == "DICOM")
        dicom = s.id;
    }
    QCOMPARE(masks, 7);
    QVERIFY(dicom);
    // The DICOM series' label map: total in the column, per label (pancreas 2.53 mL) in its tooltip.
    clickRow(b.seriesView(), proxyRowOf(b, dicom));
    QVERIFY(b.maskModel()->rowCount() >= 1);
    const MaskVersion& pancreas = b.maskModel()->maskAt(0);
    QCOMPARE(cell(b.maskModel(), 0, MaskListModel::VolumeColumn), QString::number(pancreas.volumeMl, 'f', 2));
    const QString perLabel =
        b.maskModel()->index(0, MaskListModel::VolumeColumn).data(Qt::ToolTipRole).toString();
    QVERIFY2(perLabel.contains(": 2.53 mL"), qPrintable(perLabel));
    chooseCombo(b.modalityCombo(), "CT");
    QCOMPARE(visibleRows(b), 3);
    chooseCombo(b.modalityCombo(), "MRI (all)");
    QCOMPARE(visibleRows(b), 1);
  }
};

int main(int argc, char** argv)
{
  QApplication app(argc, argv);
  TstStudyBrowser t;
  return QTest::qExec(&t, argc, argv);
}
#include "tst_study_browser.moc"
