// MainWindow's box prompt (docs/interactive.md): the Box tool's rectangle goes to an interactive
// worker session (WorkerSession: `panseg-worker session`, the model loaded and the image read
// once per image), in the background and cancellable; the result replaces the active label inside the box as one undo step
// (EditController::applyBoxPrediction -> core/edit/BoxPrompt). Only the glue lives here.
#include "ui/MainWindow.h"

#include "core/edit/BoxPrompt.h"
#include "core/edit/RobotUser.h"
#include "core/io/ImageIO.h"
#include "models/ModelCard.h"
#include "ui/EditController.h"
#include "ui/ViewerModel.h"
#include "ui/WorkerClient.h"
#include "ui/WorkerSession.h"

#include <QAction>
#include <QFileInfo>
#include <QJsonObject>
#include <QMenu>
#include <QTemporaryDir>

#include <utility>

namespace panseg::ui
{
namespace
{
bool readableFile(const QString& path)
{
  const QString n = path.toLower();
  return QFileInfo(path).isFile() &&
         (n.endsWith(".nii.gz") || n.endsWith(".nii") || n.endsWith(".nrrd") || n.endsWith(".nhdr") ||
          n.endsWith(".mha") || n.endsWith(".mhd"));
}
} // namespace

void MainWindow::buildBoxPrompt(QMenu* seg)
{
  m_boxSession = new WorkerSession(this);
  // Another image: the session's image is stale.
  connect(m_model, &ViewerModel::imageChanged, this, [this] {
    m_boxSession->stop();
    m_boxInputTemp.reset();
    m_modelClicks.restart(edit::Box()); // the click model starts over on another image
    m_pendingModelClick.reset();
  });
  seg->addSeparator();
  QAction* again = seg->addAction(tr("Predict in &Box (the box tool's box)"), this, [this] {
    if (m_edit && m_edit->hasPromptBox())
      predictInBox(m_edit->promptBox());
    else
      showStatus(tr("Draw a box first: Box tool (K), drag a rectangle on a slice view."));
  });
  again->setObjectName("predictInBox");
  m_cancelBoxAction = seg->addAction(tr("Cancel Box Prediction"), this, &MainWindow::cancelBoxPrompt);
  m_cancelBoxAction->setObjectName("cancelBoxPrompt");
  m_cancelBoxAction->setEnabled(false);
  connect(m_boxSession, &WorkerSession::finished, this, [this](const QJsonObject& done) {
    m_boxResult = done;
    finishBoxPrompt(true, {});
  });
  connect(m_boxSession, &WorkerSession::failed, this, [this](const QString& e) { finishBoxPrompt(false, e); });
  connect(m_boxSession, &WorkerSession::cancelled, this, [this] { finishBoxPrompt(false, QStringLiteral("cancelled")); });
}

bool MainWindow::isBoxPredicting() const
{
  return m_boxSession && m_boxSession->isBusy();
}

void MainWindow::cancelBoxPrompt()
{
  if (isBoxPredicting())
    m_boxSession->cancel();
}

bool MainWindow::predictInBox(const edit::Box& box, const QString& modelDirIn)
{
  if (!startBoxRequest(box, modelDirIn, {}, {}))
    return false;
  m_modelClicks.restart(box); // a new box: the click model starts over
  return true;
}

bool MainWindow::startBoxRequest(const edit::Box& box, const QString& modelDirIn, const QString& clicks,
                                 const QString& what)
{
  auto refuse = [this](const QString& why)
  {
    showStatus(why);
    return false;
  };
  if (!m_model->hasImage())
    return refuse(tr("Box prediction: open an image first."));
  if (isBoxPredicting() || isPredicting())
    return refuse(tr("Box prediction: a prediction is already running."));
  if (!m_predictBlocked.isEmpty())
    return refuse(m_predictBlocked);
  if (m_edit && m_edit->isLocked())
    return refuse(m_edit->lockReason());
  try
  {
    edit::checkBox(box, m_model->geometry());
  }
  catch (const std::exception& e)
  {
    return refuse(tr("Box prediction: %1").arg(QString::fromUtf8(e.what())));
  }
  const QString modelDir = modelDirIn.isEmpty() ? predictionModelDir() : modelDirIn;
  if (!WorkerClient::looksLikeModelPackage(modelDir))
    return refuse(tr("Box prediction: no model package (Segmentation > Model)."));
  m_boxTemp = std::make_shared<QTemporaryDir>();
  if (!m_boxTemp->isValid())
    return refuse(tr("Box prediction: cannot create a temporary folder."));
  // The session reads the image once: the open file, or a copy of what is shown, kept for the
  // session's life (until another image is opened).
  QString input = m_imagePath;
  if (!readableFile(m_imagePath))
  {
    if (!m_boxInputTemp)
    {
      auto dir = std::make_shared<QTemporaryDir>();
      if (!dir->isValid())
        return refuse(tr("Box prediction: cannot create a temporary folder."));
      try
      {
        writeImage(m_model->image(), dir->filePath("image.nii").toStdString());
      }
      catch (const std::exception& e)
      {
        return refuse(tr("Box prediction: cannot write the image for the worker: %1").arg(e.what()));
      }
      m_boxInputTemp = dir;
    }
    input = m_boxInputTemp->filePath("image.nii");
  }
  const QString roi = QString::fromStdString(edit::boxText(box));
  m_boxPending = box;
  m_boxGeneration = m_imageGeneration;
  m_boxResult = QJsonObject();
  m_cancelBoxAction->setEnabled(true);
  m_boxWhat = what.isEmpty() ? tr("Box %1").arg(roi) : what;
  QString opts;
  if (!clicks.isEmpty())
  {
    // The click model corrects the mask as it is now (unsaved edits included).
    const QString previous = m_boxTemp->filePath("previous.nii.gz");
    try
    {
      writeMask(m_model->hasMask() ? m_model->mask() : LabelMask(m_model->geometry(), 0), previous.toStdString());
    }
    catch (const std::exception& e)
    {
      m_cancelBoxAction->setEnabled(false);
      return refuse(tr("Click: cannot write the mask for the worker: %1").arg(e.what()));
    }
    opts = QString("clicks=%1 previous=%2 label=%3").arg(clicks, previous).arg(m_edit->activeLabel());
  }
  showStatus(tr("%1 with %2...").arg(m_boxWhat, modelLabel(modelDir)));
  m_boxSession->requestBox(modelDir, input, roi, m_boxTemp->filePath("box.nii.gz"), opts); // failures: failed()
  return true;
}

bool MainWindow::modelTakesClicks(const QString& modelDirIn) const
{
  const QString modelDir = modelDirIn.isEmpty() ? predictionModelDir() : modelDirIn;
  if (!WorkerClient::looksLikeModelPackage(modelDir))
    return false;
  try
  {
    return models::readModelCard((modelDir + "/model.json").toStdString()).takesClicks();
  }
  catch (const std::exception&)
  {
    return false;
  }
}

bool MainWindow::clickWithModel(const std::array<int64_t, 3>& voxel, bool positive, const QString& modelDir)
{
  if (!m_model->hasImage() || !m_edit)
  {
    showStatus(tr("Click: open an image first."));
    return false;
  }
  const Geometry& g = m_model->geometry();
  for (int a = 0; a < 3; ++a)
    if (voxel[a] < 0 || voxel[a] >= g.size[a])
    {
      showStatus(tr("Click: outside the image."));
      return false;
    }
  // The region the model answers in: the prompt box when it holds the click; else the box the
  // previous clicks used when it holds it; else the active label's extent with the click + 10 mm.
  edit::Box box;
  if (m_edit->hasPromptBox() && edit::boxHolds(m_edit->promptBox(), voxel))
    box = m_edit->promptBox();
  else if (edit::boxHolds(m_modelClicks.box(), voxel))
    box = m_modelClicks.box();
  else
  {
    edit::Box around;
    if (m_model->hasMask())
      around = edit::labelBoundingBox(m_model->mask(), m_edit->activeLabel());
    if (around.empty())
      around.lo = around.hi = voxel;
    around.include(voxel);
    box = edit::boxWithMarginMm(around, g, 10.0);
  }
  // A new region starts over: earlier clicks belong to the old one. The history changes only
  // once the request has started (a refused click leaves it as it was).
  const bool sameRegion = box.lo == m_modelClicks.box().lo && box.hi == m_modelClicks.box().hi;
  const edit::Click click{voxel, positive};
  const QString guidance = QString::fromStdString(sameRegion ? m_modelClicks.guidanceText(&click)
                                                             : edit::ModelClickHistory().guidanceText(&click));
  if (!startBoxRequest(box, modelDir, guidance, tr("Click %1").arg(guidance.section(';', -1))))
    return false;
  if (!sameRegion)
    m_modelClicks.restart(box);
  m_pendingModelClick = click;
  return true;
}

void MainWindow::finishBoxPrompt(bool ok, const QString& error)
{
  m_cancelBoxAction->setEnabled(false);
  const std::shared_ptr<QTemporaryDir> temp = std::move(m_boxTemp);
  const std::optional<edit::Click> click = std::exchange(m_pendingModelClick, std::nullopt);
  if (!ok)
  {
    const QString text = error == "cancelled" ? tr("%1 cancelled; the mask is unchanged.").arg(m_boxWhat)
                                              : tr("%1 failed: %2").arg(m_boxWhat, error);
    showStatus(text);
    emit boxPromptFinished(false, error);
    return;
  }
  if (m_boxGeneration != m_imageGeneration)
  {
    showStatus(tr("Box prediction finished for the previous image; not applied."));
    emit boxPromptFinished(false, QStringLiteral("another image is open"));
    return;
  }
  const QJsonObject r = m_boxResult;
  try
  {
    const LabelMask predicted = readMaskFor(r.value("output").toString().toStdString(), m_model->geometry());
    const uint64_t before = m_edit->ensureEditing() ? m_edit->maskRevision() : 0;
    const int64_t changed = m_edit->applyBoxPrediction(m_boxPending, predicted);
    if (changed < 0)
    {
      showStatus(tr("Box prediction not applied: %1").arg(m_edit->lastError()));
      emit boxPromptFinished(false, m_edit->lastError());
      return;
    }
    if (click)
      m_modelClicks.add(*click, before, m_edit->maskRevision()); // guidance for the next clicks, until undone
    const QString how = r.value("click_method").toString() == "grow from seeds"
                            ? tr(", grown from seeds: the model changed nothing there")
                            : QString();
    const QString summary = tr("%1: %2 voxels changed in %3 s (%4 forward passes%5; Undo reverts it)")
                                .arg(m_boxWhat)
                                .arg(changed)
                                .arg(r.value("seconds").toDouble(), 0, 'f', 1)
                                .arg(r.value("forward_passes").toInteger())
                                .arg(how);
    showStatus(summary);
    emit boxPromptFinished(true, summary);
  }
  catch (const std::exception& e)
  {
    showStatus(tr("Box prediction failed: %1").arg(e.what()));
    emit boxPromptFinished(false, QString::fromUtf8(e.what()));
  }
}
} // namespace panseg::ui
