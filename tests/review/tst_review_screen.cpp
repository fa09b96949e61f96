// The coordinator's review screen (issue 20, defect 5), driven as a coordinator drives it: the real
// main window with ui::attachWorkstation on a real study database, under Xvfb.
//  * double-clicking another reader's read in the reader-study dock opens it read-only (it used to
//    say the read belongs to another reader); readers keep that rule;
//  * the Review dock lists what awaits approval; comparing two reads shows both as contours of two
//    colours on the slice views and the Dice (and the rest) that core/metrics computes for them;
//  * Return with comment (the comment is required; the reader's worklist then shows the read
//    returned with the comment), Approve, Approve consensus; every action refreshes the docks;
//  * a mask version submitted outside any study (Study > Submit mask for approval) is reviewed too.
#include "ReviewFixture.h"

#include "core/metrics/Agreement.h"
#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/ReaderStudyPanel.h"
#include "ui/ReaderWorklistModel.h"
#include "ui/ReviewPanel.h"
#include "ui/SliceView.h"
#include "ui/StudyBrowser.h"
#include "ui/ViewerModel.h"
#include "ui/Workstation.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTableView>
#include <QTableWidget>

#include <algorithm>
#include <memory>

using namespace review;
using panseg::ui::MainWindow;
using panseg::ui::ReviewPanel;
using panseg::ui::ViewerModel;
using VK = panseg::ui::MainWindow::ViewKind;

namespace
{
int openMessageBoxes()
{
  int n = 0;
  for (QWidget* top : QApplication::topLevelWidgets())
    if (auto* box = qobject_cast<QMessageBox*>(top); box && box->isVisible())
      ++n;
  return n;
}
void closeMessageBoxes()
{
  for (QWidget* top : QApplication::topLevelWidgets())
    if (auto* box = qobject_cast<QMessageBox*>(top))
      box->close();
}

struct Session
{
  std::unique_ptr<MainWindow> w;
  panseg::ui::Workstation* ws = nullptr;
  Session(const Fixture& f, const char* user)
  {
    qputenv("PANSEG_USER", user);
    w = std::make_unique<MainWindow>();
    w->resize(1400, 950);
    ws = panseg::ui::attachWorkstation(*w, f.dir);
    w->show();
    w->activateWindow();
    if (!QTest::qWaitForWindowExposed(w.get()))
      qWarning("window not exposed");
    if (!QTest::qWaitForWindowActive(w.get()))
      qWarning("window not active");
  }
  ~Session()
  {
    if (w && w->editController())
      w->editController()->markSaved();
    closeMessageBoxes();
  }
};

/// Saves a widget's picture in $PANSEG_REVIEW_SCREENSHOTS (for people to look at).
void screenshot(QWidget* widget, const QString& name)
{
  const QString dir = qEnvironmentVariable("PANSEG_REVIEW_SCREENSHOTS");
  if (dir.isEmpty())
    return;
  QDir().mkpath(dir);
  QTest::qWait(200);
  QVERIFY(widget->grab().save(dir + "/" + name + ".png"));
}

bool sameVoxels(const LabelMask& a, const LabelMask& b)
{
  return a.geometry.sameGrid(b.geometry) && a.voxels == b.voxels;
}

LabelMask shifted(const LabelMask& m, int dx)
{
  LabelMask out(m.geometry, 0);
  for (int64_t z = 0; z < m.nz(); ++z)
    for (int64_t y = 0; y < m.ny(); ++y)
      for (int64_t x = 0; x < m.nx(); ++x)
        if (x - dx >= 0 && x - dx < m.nx())
          out.at(x, y, z) = m.at(x - dx, y, z);
  return out;
}

/// Picks the item with `maskVersionId` in the "Compare with" box by keyboard, as a user would.
bool pickWithKeys(QComboBox* box, int64_t maskVersionId)
{
  box->setFocus();
  QTest::keyClick(box, Qt::Key_Home);
  for (int i = 0; i < box->count(); ++i)
  {
    if (box->currentData().toLongLong() == maskVersionId)
      return true;
    QTest::keyClick(box, Qt::Key_Down);
  }
  return box->currentData().toLongLong() == maskVersionId;
}

int countColor(const QImage& image, panseg::Rgb c)
{
  const QRgb want = qRgb(c.r, c.g, c.b);
  int n = 0;
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x)
      n += image.pixel(x, y) == want ? 1 : 0;
  return n;
}

int rowOfMask(QTableWidget* queue, const ReviewPanel& panel, int64_t maskVersionId)
{
  for (int r = 0; r < queue->rowCount(); ++r)
    if (panel.queue()[size_t(r)].maskVersionId == maskVersionId)
      return r;
  return -1;
}

/// A study "review" of one series: alice submits the phantom's pancreas, bob the same shifted by
/// one voxel, carol builds the majority-vote consensus (submitted).
struct Reads
{
  int64_t study = 0, aliceRead = 0, bobRead = 0, aliceMask = 0, bobMask = 0, consensus = 0;
  LabelMask alice, bob;
};
Reads submitReads(const Fixture& f)
{
  Reads r;
  r.study = createStudy(f, "review study");
  r.alice = f.truths[0];
  r.bob = shifted(f.truths[0], 1);
  for (const char* who : {"alice", "bob"})
  {
    StudyDatabase db(f.dir.toStdString(), as(who));
    ReaderStudy rs(db);
    const ReadRecord read = rs.worklist(r.study).reads.front();
    rs.startRead(read.id);
    const bool isAlice = std::string(who) == "alice";
    const int64_t mask = rs.submitRead(read.id, isAlice ? r.alice : r.bob);
    (isAlice ? r.aliceRead : r.bobRead) = read.id;
    (isAlice ? r.aliceMask : r.bobMask) = mask;
  }
  StudyDatabase db(f.dir.toStdString(), as("carol"));
  r.consensus = ReaderStudy(db).buildConsensus(r.study, f.series[0]);
  return r;
}
} // namespace

class TstReviewScreen : public QObject
{
  Q_OBJECT
private slots:
  void cleanup()
  {
    closeMessageBoxes();
    qunsetenv("PANSEG_USER");
  }

  void coordinatorReviewsComparesReturnsAndApproves()
  {
    Fixture f;
    setUp(f, 1);
    QVERIFY(!QTest::currentTestFailed());
    const Reads reads = submitReads(f);
    const QString comment = "Please include the pancreatic tail near the splenic hilum.";
    {
      Session carol(f, "carol");
      MainWindow& w = *carol.w;
      panseg::ui::ReaderStudyPanel* dock = carol.ws->readerPanel;
      ReviewPanel* review = carol.ws->review;
      QVERIFY(review);
      QVERIFY(carol.ws->reviewDock->toggleViewAction()->isChecked()); // the coordinators' dock is there

      // 1. Double-click alice's read in the reader-study dock (it used to say "belongs to another reader").
      auto* worklist = dock->findChild<QTableView*>();
      QVERIFY(worklist);
      carol.ws->readerDock->show();
      carol.ws->readerDock->raise();
      QApplication::processEvents();
      const int row = dock->worklistModel()->rowOf(reads.aliceRead);
      QVERIFY(row >= 0);
      const QRect cell = worklist->visualRect(dock->worklistModel()->index(row, 0));
      QVERIFY(cell.isValid());
      QTest::mouseClick(worklist->viewport(), Qt::LeftButton, {}, cell.center());
      QTest::mouseDClick(worklist->viewport(), Qt::LeftButton, {}, cell.center());
      QApplication::processEvents();
      QCOMPARE(openMessageBoxes(), 0);
      QVERIFY2(!dock->lastError().contains("belongs to"), qPrintable(dock->lastError()));
      QCOMPARE(review->shownReadId(), reads.aliceRead);
      QVERIFY(carol.ws->reviewDock->isVisible());
      QVERIFY(w.model()->hasMask());
      QVERIFY2(sameVoxels(w.model()->mask(), reads.alice), "the viewer does not show alice's submitted mask");
      QVERIFY(w.editController()->isLocked()); // read-only
      QVERIFY2(w.reviewBanner().contains("read-only"), qPrintable(w.reviewBanner()));
      QVERIFY2(w.windowTitle().contains("PAT-100") && w.windowTitle().contains(QString("read %1").arg(reads.aliceRead)),
               qPrintable(w.windowTitle()));
      // The read itself is untouched (a coordinator does not start it).
      {
        StudyDatabase db(f.dir.toStdString(), as("carol"));
        QCOMPARE(ReaderStudy(db).read(reads.aliceRead).state, ReadState::Submitted);
      }

      // 2. The queue: both reads and the consensus await approval.
      auto* queue = review->findChild<QTableWidget*>("reviewQueue");
      QVERIFY(queue);
      QCOMPARE(queue->rowCount(), 3);
      QVERIFY(rowOfMask(queue, *review, reads.consensus) >= 0);

      // 3. Compare with bob's read: contours of two colours and core/metrics' numbers.
      auto* compareBox = review->findChild<QComboBox*>("reviewCompareWith");
      QVERIFY(compareBox && compareBox->isEnabled());
      QVERIFY(compareBox->findData(qlonglong(f.aiMasks[0])) > 0);      // the AI mask
      QVERIFY(compareBox->findData(qlonglong(reads.consensus)) > 0);   // the consensus
      QVERIFY(pickWithKeys(compareBox, reads.bobMask));
      QCOMPARE(review->comparedMaskId(), reads.bobMask);
      const panseg::AgreementResult expected = panseg::computeAgreement(reads.alice, 0, reads.bob, 0);
      QVERIFY(expected.dice > 0.3 && expected.dice < 0.99); // a real disagreement
      auto value = [&](const char* key) { return review->findChild<QLabel*>(QString("agreement_") + key)->text(); };
      QCOMPARE(value("dice"), QString::number(expected.dice, 'f', 4));
      QCOMPARE(value("jaccard"), QString::number(expected.jaccard, 'f', 4));
      QVERIFY2(value("hd95").startsWith(QString::number(expected.hd95Mm, 'f', 2)), qPrintable(value("hd95")));
      QVERIFY2(value("volumeA").startsWith(QString::number(expected.volumeAMl, 'f', 2)), qPrintable(value("volumeA")));
      QVERIFY(w.model()->hasComparison());
      QVERIFY(sameVoxels(*w.model()->comparisonMask(), reads.bob));
      QCOMPARE(w.model()->comparisonStyle(), ViewerModel::ComparisonStyle::Contours);
      QCOMPARE(w.model()->comparisonCounts().dice(), expected.dice); // the status bar's figure agrees
      // On the axial view through the pancreas: A's contour in one colour, B's in another.
      int64_t zBest = 0, best = -1;
      const int64_t plane = reads.alice.nx() * reads.alice.ny();
      for (int64_t z = 0; z < reads.alice.nz(); ++z)
      {
        const int64_t n = std::count_if(reads.alice.voxels.begin() + z * plane, reads.alice.voxels.begin() + (z + 1) * plane,
                                        [](uint8_t v) { return v != 0; });
        if (n > best)
          best = n, zBest = z;
      }
      QVERIFY(best > 0);
      w.model()->setSliceIndex(panseg::SliceOrientation::Axial, int(zBest));
      const QImage slice = w.model()->renderSlice(panseg::SliceOrientation::Axial);
      QVERIFY(countColor(slice, ViewerModel::contourColor(false)) > 0);
      QVERIFY(countColor(slice, ViewerModel::contourColor(true)) > 0);
      QApplication::processEvents();
      const QImage onScreen = w.grabView(VK::Axial).convertToFormat(QImage::Format_RGB32);
      QVERIFY(countColor(onScreen, ViewerModel::contourColor(false)) > 0);
      QVERIFY(countColor(onScreen, ViewerModel::contourColor(true)) > 0);
      // Agreement colours instead: no more contour-only colouring of the inside.
      review->setContours(false);
      QCOMPARE(w.model()->comparisonStyle(), ViewerModel::ComparisonStyle::Agreement);
      review->setContours(true);
      carol.ws->reviewDock->raise();
      QApplication::processEvents();
      screenshot(&w, "review-screen-window");
      screenshot(carol.ws->reviewDock, "review-screen-dock");

      // 4. Return alice's read: refused without a comment, then with it.
      auto* returnButton = review->findChild<QPushButton*>("reviewReturn");
      QVERIFY(returnButton && returnButton->isEnabled());
      QTest::mouseClick(returnButton, Qt::LeftButton);
      QVERIFY2(review->lastError().contains("comment"), qPrintable(review->lastError()));
      {
        StudyDatabase db(f.dir.toStdString(), as("carol"));
        QCOMPARE(ReaderStudy(db).read(reads.aliceRead).state, ReadState::Submitted);
      }
      auto* commentBox = review->findChild<QPlainTextEdit*>("reviewComment");
      QVERIFY(commentBox);
      commentBox->setFocus();
      QTest::keyClicks(commentBox, comment);
      QCOMPARE(commentBox->toPlainText(), comment); // typed, not taken by the window's shortcuts
      QTest::mouseClick(returnButton, Qt::LeftButton);
      QVERIFY2(review->lastError().isEmpty(), qPrintable(review->lastError()));
      QCOMPARE(queue->rowCount(), 2); // bob's read and the consensus
      QCOMPARE(rowOfMask(queue, *review, reads.aliceMask), -1);
      // The reader-study dock is refreshed: alice's read is "returned" there too.
      const int aliceRow = dock->worklistModel()->rowOf(reads.aliceRead);
      QCOMPARE(dock->worklistModel()->readAt(aliceRow)->state, ReadState::Returned);
      QVERIFY(!returnButton->isEnabled()); // nothing left to decide on the shown read

      // 5. Approve bob's read from the queue.
      const int bobRow = rowOfMask(queue, *review, reads.bobMask);
      QVERIFY(bobRow >= 0);
      QTest::mouseClick(queue->viewport(), Qt::LeftButton, {}, queue->visualItemRect(queue->item(bobRow, 0)).center());
      QCOMPARE(review->shownReadId(), reads.bobRead);
      QVERIFY(sameVoxels(w.model()->mask(), reads.bob));
      QTest::mouseClick(review->findChild<QPushButton*>("reviewApprove"), Qt::LeftButton);
      QVERIFY2(review->lastError().isEmpty(), qPrintable(review->lastError()));
      QCOMPARE(queue->rowCount(), 1);
      QCOMPARE(dock->worklistModel()->readAt(dock->worklistModel()->rowOf(reads.bobRead))->state, ReadState::Approved);

      // 6. Approve the consensus (shown from the queue, compared with a read).
      const int consensusRow = rowOfMask(queue, *review, reads.consensus);
      QVERIFY(consensusRow >= 0);
      QTest::mouseClick(queue->viewport(), Qt::LeftButton, {},
                        queue->visualItemRect(queue->item(consensusRow, 0)).center());
      QCOMPARE(review->shownMaskId(), reads.consensus);
      QVERIFY(!review->findChild<QPushButton*>("reviewApprove")->isEnabled());
      auto* approveConsensus = review->findChild<QPushButton*>("reviewApproveConsensus");
      QVERIFY(approveConsensus->isEnabled());
      QVERIFY(pickWithKeys(compareBox, reads.bobMask));
      QTest::mouseClick(approveConsensus, Qt::LeftButton);
      QVERIFY2(review->lastError().isEmpty(), qPrintable(review->lastError()));
      QCOMPARE(queue->rowCount(), 0);
      QVERIFY(!approveConsensus->isEnabled());

      // Leaving the review (a series opened from the browser) lifts the read-only lock.
      QVERIFY(carol.ws->browser->selectSeries(f.series[0]));
      QTest::mouseClick(carol.ws->browser->openButton(), Qt::LeftButton);
      QVERIFY(!w.editController()->isLocked());
      QVERIFY(!w.model()->hasComparison());
      QVERIFY(!w.reviewBanner().contains("read-only"));
    }
    {
      StudyDatabase db(f.dir.toStdString(), as("carol"));
      ReaderStudy rs(db);
      QCOMPARE(rs.read(reads.aliceRead).state, ReadState::Returned);
      QCOMPARE(QString::fromStdString(rs.read(reads.aliceRead).comment), comment);
      QCOMPARE(rs.read(reads.bobRead).state, ReadState::Approved);
      QCOMPARE(db.maskVersion(reads.bobMask)->state, MaskState::Approved);
      QCOMPARE(db.maskVersion(reads.consensus)->state, MaskState::Approved);
      QCOMPARE(db.maskVersion(reads.aliceMask)->state, MaskState::Draft);
    }

    // The reader's worklist shows the read returned, with the comment.
    Session alice(f, "alice");
    panseg::ui::ReaderWorklistModel* model = alice.ws->readerPanel->worklistModel();
    const int row = model->rowOf(reads.aliceRead);
    QVERIFY(row >= 0);
    QCOMPARE(model->index(row, panseg::ui::ReaderWorklistModel::StateColumn).data().toString(), QString("returned"));
    QCOMPARE(model->index(row, panseg::ui::ReaderWorklistModel::CommentColumn).data().toString(), comment);
    QVERIFY(!alice.ws->reviewDock->toggleViewAction()->isChecked()); // the review screen is the coordinators'
  }

  void readersStillCannotOpenOthersReads()
  {
    Fixture f;
    setUp(f, 1);
    QVERIFY(!QTest::currentTestFailed());
    const Reads reads = submitReads(f);
    Session bob(f, "bob");
    QVERIFY(!bob.ws->readerPanel->openRead(reads.aliceRead));
    QVERIFY2(bob.ws->readerPanel->lastError().contains("belongs to alice"),
             qPrintable(bob.ws->readerPanel->lastError()));
    closeMessageBoxes();
    // Nor through the review screen's functions.
    QVERIFY(!bob.ws->review->showRead(reads.aliceRead));
    QVERIFY(bob.ws->review->queue().empty());
    QVERIFY(!bob.w->model()->hasMask());
  }

  void maskSubmittedOutsideAStudyIsReviewed()
  {
    Fixture f;
    setUp(f, 1);
    QVERIFY(!QTest::currentTestFailed());
    // alice edits the AI mask and submits it (Study > Submit mask for approval does this).
    int64_t edited = 0;
    {
      StudyDatabase db(f.dir.toStdString(), as("alice"));
      MaskProvenance p;
      p.source = MaskSource::Reader;
      p.parentId = f.aiMasks[0];
      edited = db.saveMaskVersion(f.series[0], shifted(f.truths[0], -1), p);
      db.setMaskState(edited, MaskState::Submitted);
    }
    Session carol(f, "carol");
    ReviewPanel* review = carol.ws->review;
    auto* queue = review->findChild<QTableWidget*>("reviewQueue");
    QCOMPARE(queue->rowCount(), 1);
    QTest::mouseClick(queue->viewport(), Qt::LeftButton, {}, queue->visualItemRect(queue->item(0, 0)).center());
    QCOMPARE(review->shownMaskId(), edited);
    QVERIFY(pickWithKeys(review->findChild<QComboBox*>("reviewCompareWith"), f.aiMasks[0]));
    const panseg::AgreementResult expected = panseg::computeAgreement(shifted(f.truths[0], -1), 0, f.truths[0], 0);
    QCOMPARE(review->findChild<QLabel*>("agreement_dice")->text(), QString::number(expected.dice, 'f', 4));
    review->findChild<QPlainTextEdit*>("reviewComment")->setPlainText("The head is cut off.");
    QTest::mouseClick(review->findChild<QPushButton*>("reviewReturn"), Qt::LeftButton);
    QVERIFY2(review->lastError().isEmpty(), qPrintable(review->lastError()));
    QCOMPARE(queue->rowCount(), 0);
    StudyDatabase db(f.dir.toStdString(), as("carol"));
    QCOMPARE(db.maskVersion(edited)->state, MaskState::Draft);
  }
};

QTEST_MAIN(TstReviewScreen)
#include "tst_review_screen.moc"
