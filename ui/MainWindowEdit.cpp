// MainWindow: the Edit menu and toolbar over EditController (tools, brush, threshold, undo/redo,
// mask clean-up), and the unsaved-edits prompt. See docs/editing.md.
#include "ui/EditController.h"
#include "ui/LabelTableDialog.h"
#include "ui/MainWindow.h"
#include "ui/PropertyBinding.h"
#include "ui/SliceView.h"
#include "ui/ViewerModel.h"

#include "core/Error.h"
#include "core/io/ImageIO.h"

#include <QAction>
#include <QActionGroup>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStatusBar>
#include <QToolBar>

namespace panseg::ui
{
namespace
{
SliceOrientation focusedOrientation(SliceView* const views[3])
{
  for (int i = 0; i < 3; ++i)
    if (views[i]->hasFocus())
      return views[i]->orientation();
  return SliceOrientation::Axial;
}
} // namespace

void MainWindow::buildEditMenu()
{
  m_edit = new EditController(m_model, this);
  // The Box tool's rectangle: the model predicts inside it (MainWindowInteract.cpp).
  connect(m_edit, &EditController::boxPromptRequested, this, [this](const edit::Box& b) { predictInBox(b); });
  // Refine-tool clicks go to the prediction model when it takes clicks (MainWindowInteract.cpp).
  m_edit->setModelClickRule([this] { return modelTakesClicks(); });
  connect(m_edit, &EditController::modelClickRequested, this,
          [this](const std::array<int64_t, 3>& v, bool positive) { clickWithModel(v, positive); });
  // The click model's guidance follows Undo and Redo (edit::ModelClickHistory) and starts over
  // when another mask is shown.
  connect(m_edit, &EditController::edited, this, [this] { m_modelClicks.follow(m_edit->maskRevision()); });
  connect(m_edit, &EditController::editorReset, this, [this] { m_modelClicks.restart(edit::Box()); });
  for (SliceView* v : m_views)
    v->setEditController(m_edit);

  QMenu* menu = menuBar()->addMenu(tr("&Edit"));
  m_undoAction = menu->addAction(tr("&Undo"), m_edit, &EditController::undo);
  m_undoAction->setShortcuts({QKeySequence::Undo});
  m_redoAction = menu->addAction(tr("&Redo"), m_edit, &EditController::redo);
  m_redoAction->setShortcuts({QKeySequence(tr("Ctrl+Y")), QKeySequence(tr("Ctrl+Shift+Z"))});
  menu->addSeparator();
  m_labelsAction = menu->addAction(tr("&Labels..."), this, &MainWindow::editLabelTable);
  m_labelsAction->setObjectName("labelsAction");
  m_labelsAction->setToolTip(tr("Names and colours of the shown mask's labels"));
  menu->addSeparator();

  // Tools, with ITK-SNAP-like single keys.
  m_toolGroup = new QActionGroup(this);
  m_toolGroup->setExclusive(true);
  struct ToolDef
  {
    EditController::Tool tool;
    const char* text;
    Qt::Key key;
    const char* name;
    const char* buttonText;
  };
  const ToolDef tools[] = {
      {EditController::Tool::Navigate, QT_TR_NOOP("&Navigate (cursor)"), Qt::Key_N, "toolNavigate",
       QT_TR_NOOP("Navigate")},
      {EditController::Tool::Paint, QT_TR_NOOP("&Paintbrush"), Qt::Key_B, "toolPaint",
       QT_TR_NOOP("Paint")},
      {EditController::Tool::Erase, QT_TR_NOOP("&Eraser"), Qt::Key_E, "toolErase",
       QT_TR_NOOP("Erase")},
      {EditController::Tool::Lasso, QT_TR_NOOP("&Lasso Fill (Ctrl: clear)"), Qt::Key_P, "toolLasso",
       QT_TR_NOOP("Lasso")},
      {EditController::Tool::Scissors, QT_TR_NOOP("&Scissors through the volume (Ctrl: cut outside)"),
       Qt::Key_X, "toolScissors", QT_TR_NOOP("Scissors")},
      {EditController::Tool::Ruler, QT_TR_NOOP("R&uler (drag: length in mm; Esc clears)"), Qt::Key_L, "toolRuler",
       QT_TR_NOOP("Ruler")},
      {EditController::Tool::GrowSeeds,
       QT_TR_NOOP("&Grow from Seeds (drag: foreground scribble, Ctrl: background)"), Qt::Key_G,
       "toolGrowSeeds", QT_TR_NOOP("Grow")},
      {EditController::Tool::Box, QT_TR_NOOP("Bo&x Prompt (drag a rectangle: the model predicts inside it)"),
       Qt::Key_K, "toolBox", QT_TR_NOOP("Box")},
      {EditController::Tool::Refine,
       QT_TR_NOOP("Re&fine with Clicks (click: add, Ctrl+click: remove; a click model answers, else grow from seeds)"), Qt::Key_J,
       "toolRefine", QT_TR_NOOP("Refine")},
  };
  for (const ToolDef& t : tools)
  {
    QAction* a = menu->addAction(tr(t.text));
    a->setObjectName(t.name);
    a->setIconText(tr(t.buttonText));
    a->setToolTip(
        QStringLiteral("%1 (%2)").arg(tr(t.text).remove('&'), QKeySequence(t.key).toString()));
    a->setCheckable(true);
    a->setShortcut(QKeySequence(t.key));
    a->setData(static_cast<int>(t.tool));
    m_toolGroup->addAction(a);
  }
  // The tool group shows and sets the controller's tool (ui/PropertyBinding.h).
  couple(m_toolGroup,
         PropertyModel<int>{ [this] { return static_cast<int>(m_edit->tool()); },
                             [this](int tool) { m_edit->setTool(static_cast<EditController::Tool>(tool)); } },
         m_edit, &EditController::settingsChanged);
  QAction* restartGrow = menu->addAction(tr("Grow from Seeds: Start &Over"), m_edit,
                                         &EditController::restartGrowSeeds);
  restartGrow->setObjectName("growRestart");
  restartGrow->setToolTip(tr("Forget the grow-from-seeds scribbles (the mask keeps what was grown)"));
  // How the Grow tool grows (EditController::GrowMethod), coupled to the controller.
  QMenu* growMethod = menu->addMenu(tr("Grow &Method"));
  growMethod->setToolTipsVisible(true);
  auto* growGroup = new QActionGroup(growMethod);
  growGroup->setExclusive(true);
  const struct
  {
    EditController::GrowMethod method;
    const char* name;
    const char* text;
    const char* tip;
  } methods[] = {
    { EditController::GrowMethod::GrowCut, "growMethod-growcut", QT_TR_NOOP("&GrowCut (foreground and background scribbles)"),
      QT_TR_NOOP("Every voxel takes the scribble it reaches most cheaply across intensity changes; "
                 "incremental as you paint") },
    { EditController::GrowMethod::ConfidenceConnected, "growMethod-confidence",
      QT_TR_NOOP("&Region Growing (ITK confidence connected)"),
      QT_TR_NOOP("Grows from the foreground scribbles through voxels within mean \u00b1 2.5 SD of the region; "
                 "background scribbles are barriers") },
    { EditController::GrowMethod::LevelSet, "growMethod-levelset", QT_TR_NOOP("&Level Set (ITK threshold level set)"),
      QT_TR_NOOP("A smooth surface grows from the foreground scribbles while the intensity stays within mean "
                 "\u00b1 2.5 SD of the scribbles; background scribbles push it back") },
  };
  for (const auto& m : methods)
  {
    QAction* a = growMethod->addAction(tr(m.text));
    a->setObjectName(m.name);
    a->setToolTip(tr(m.tip));
    a->setCheckable(true);
    a->setData(static_cast<int>(m.method));
    growGroup->addAction(a);
  }
  couple(growGroup,
         PropertyModel<int>{ [this] { return static_cast<int>(m_edit->growMethod()); },
                             [this](int v) { m_edit->setGrowMethod(static_cast<EditController::GrowMethod>(v)); } },
         m_edit, &EditController::settingsChanged);
  m_brush3DAction = menu->addAction(tr("3D &Brush (sphere)"));
  m_brush3DAction->setObjectName("brush3D");
  m_brush3DAction->setCheckable(true);
  m_brush3DAction->setShortcut(QKeySequence(Qt::Key_D));
  couple(m_brush3DAction,
         PropertyModel<bool>{ [this] { return m_edit->brush3D(); }, [this](bool on) { m_edit->setBrush3D(on); } },
         m_edit, &EditController::settingsChanged);
  // +/- resize the brush wherever the focus is (window shortcuts), while a paint tool is active;
  // with the navigation tool the actions are disabled and the keys zoom the focused slice view.
  m_brushLargerAction = menu->addAction(tr("&Larger Brush"), m_edit, [this] { m_edit->stepBrushSize(1); });
  m_brushLargerAction->setObjectName("brushLarger");
  m_brushLargerAction->setShortcuts({QKeySequence(Qt::Key_Plus), QKeySequence(Qt::Key_Equal)});
  m_brushLargerAction->setShortcutContext(Qt::WindowShortcut);
  m_brushSmallerAction = menu->addAction(tr("&Smaller Brush"), m_edit, [this] { m_edit->stepBrushSize(-1); });
  m_brushSmallerAction->setObjectName("brushSmaller");
  m_brushSmallerAction->setShortcut(QKeySequence(Qt::Key_Minus));
  m_brushSmallerAction->setShortcutContext(Qt::WindowShortcut);
  for (QAction* a : { m_brushLargerAction, m_brushSmallerAction })
    coupleEnabled(a, [this] { return m_edit->isEditingTool(); }, m_edit, &EditController::settingsChanged);
  QAction* square = menu->addAction(tr("S&quare Brush"));
  square->setCheckable(true);
  connect(square, &QAction::toggled, m_edit,
          [this](bool on)
          { m_edit->setBrushShape(on ? edit::BrushShape::Square : edit::BrushShape::Round); });
  QAction* bgOnly = menu->addAction(tr("Paint Over &Background Only"));
  bgOnly->setCheckable(true);
  connect(bgOnly, &QAction::toggled, m_edit,
          [this](bool on) {
            m_edit->setOverwrite(on ? edit::Overwrite::BackgroundOnly : edit::Overwrite::AllLabels);
          });
  m_thresholdAction = menu->addAction(tr("&Threshold-Limited Paint"));
  m_thresholdAction->setCheckable(true);
  m_thresholdAction->setShortcut(QKeySequence(Qt::Key_T));
  {
    // The range starts as the pancreas CT range, switched off (the toolbar's spin boxes show it).
    edit::IntensityRange start = edit::pancreasCtRange();
    start.enabled = false;
    m_edit->setThreshold(start);
  }
  couple(m_thresholdAction,
         PropertyModel<bool>{ [this] { return m_edit->threshold().enabled; },
                              [this](bool on)
                              {
                                edit::IntensityRange r = m_edit->threshold();
                                r.enabled = on;
                                m_edit->setThreshold(r);
                              } },
         m_edit, &EditController::settingsChanged);
  QAction* preset = menu->addAction(tr("Pancreas CT Range (-100..240 HU)"), this,
                                    [this] { m_edit->setThreshold(edit::pancreasCtRange()); });
  preset->setObjectName("pancreasRange");
  menu->addSeparator();

  QAction* interp = menu->addAction(
      tr("&Fill Between Slices..."), this,
      [this]
      {
        const int64_t n = m_edit->proposeFillBetweenSlices(focusedOrientation(m_views));
        if (n == 0)
        {
          showStatus(
              tr("Fill between slices: nothing to fill (draw the label on at least two slices "
                 "with empty slices between them)"));
          return;
        }
        // The result is shown; the user keeps or drops it.
        auto* box = new QMessageBox(
            QMessageBox::Question, tr("Fill Between Slices"),
            tr("%1 voxels were interpolated between the drawn slices. Keep them?").arg(n),
            QMessageBox::Yes | QMessageBox::No, this);
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->setWindowModality(Qt::NonModal);
        connect(box, &QMessageBox::finished, this,
                [this, box](int)
                {
                  if (box->clickedButton() == box->button(QMessageBox::Yes))
                    m_edit->acceptProposal();
                  else
                    m_edit->rejectProposal();
                });
        box->show();
      });
  interp->setShortcut(QKeySequence(Qt::Key_I));
  QMenu* smooth = menu->addMenu(tr("&Smooth"));
  auto askRadius = [this](const QString& title, double fallback, double* out)
  {
    bool ok = false;
    *out = QInputDialog::getDouble(this, title, tr("Radius (mm):"), fallback, 0.25, 20.0, 2, &ok);
    return ok;
  };
  smooth->addAction(tr("&Median..."), this,
                    [this, askRadius]
                    {
                      double r = 0;
                      if (askRadius(tr("Median"), 1.5, &r))
                        m_edit->smooth(EditController::Smoothing::Median, r);
                    });
  smooth->addAction(tr("&Closing..."), this,
                    [this, askRadius]
                    {
                      double r = 0;
                      if (askRadius(tr("Closing"), 2.0, &r))
                        m_edit->smooth(EditController::Smoothing::Closing, r);
                    });
  smooth->addAction(tr("&Opening..."), this,
                    [this, askRadius]
                    {
                      double r = 0;
                      if (askRadius(tr("Opening"), 1.0, &r))
                        m_edit->smooth(EditController::Smoothing::Opening, r);
                    });
  menu->addAction(tr("Fill &Holes"), m_edit, &EditController::fillHoles);
  menu->addAction(tr("Keep &Largest Component"), m_edit, &EditController::keepLargestComponent);
  menu->addAction(tr("Remove &Islands..."), this,
                  [this]
                  {
                    bool ok = false;
                    const double ml = QInputDialog::getDouble(
                        this, tr("Remove Islands"), tr("Remove pieces smaller than (mL):"), 0.5,
                        0.0, 1000.0, 3, &ok);
                    if (ok)
                      m_edit->removeIslands(ml);
                  });

  // Compare mode: the shown mask (A) against a second one (B) with agreement colours and live
  // Dice / volume difference in the status bar.
  menu->addSeparator();
  menu->addAction(
      tr("&Compare With Mask File..."), this,
      [this]
      {
        if (!m_model->hasMask())
        {
          showError(tr("Compare Masks"), tr("Show a mask before comparing it with another."));
          return;
        }
        const QString path = QFileDialog::getOpenFileName(this, tr("Mask to Compare (B)"));
        if (path.isEmpty())
          return;
        try
        {
          QString error;
          if (!m_model->setComparisonMask(readMaskFor(path.toStdString(), m_model->geometry()),
                                          &error))
            showError(tr("Compare Masks"), error);
        }
        catch (const panseg::Error& e)
        {
          showError(tr("Compare Masks"), QString::fromUtf8(e.what()));
        }
      });
  menu->addAction(tr("S&top Comparing"), m_model, &ViewerModel::clearComparison);
  auto* compareLabel = new QLabel(this);
  compareLabel->setObjectName("comparisonLabel");
  compareLabel->setVisible(false);
  statusBar()->addPermanentWidget(compareLabel);
  connect(m_model, &ViewerModel::comparisonChanged, compareLabel,
          [this, compareLabel]
          {
            compareLabel->setVisible(m_model->hasComparison());
            if (!m_model->hasComparison())
              return;
            const edit::OverlapCounts c = m_model->comparisonCounts();
            compareLabel->setText(tr("Compare: Dice %1   A %2 mL  B %3 mL  A-B %4 mL")
                                      .arg(c.dice(), 0, 'f', 3)
                                      .arg(c.volumeAMl(), 0, 'f', 2)
                                      .arg(c.volumeBMl(), 0, 'f', 2)
                                      .arg(c.volumeDifferenceMl(), 0, 'f', 2));
          });

  // Undo / redo follow the history; the tool tip says what it costs.
  coupleEnabled(m_undoAction, [this] { return m_edit->canUndo(); }, m_edit, &EditController::undoStateChanged);
  coupleEnabled(m_redoAction, [this] { return m_edit->canRedo(); }, m_edit, &EditController::undoStateChanged);
  auto undoTip = [this]
  { m_undoAction->setToolTip(tr("Undo (Ctrl+Z); history uses %1 kB").arg(m_edit->undoMemoryBytes() / 1024)); };
  undoTip();
  connect(m_edit, &EditController::undoStateChanged, this,
          [this, undoTip]
          {
            undoTip();
            updateTitle();
          });
  connect(m_edit, &EditController::errorOccurred, this,
          [this](const QString& m) { showStatus(m); });
}

void MainWindow::buildEditToolBar()
{
  // Toolbar: tool buttons, brush size (mm), 2D/3D, label, threshold range.
  // A row of its own below the viewer toolbar.
  addToolBarBreak();
  QToolBar* bar = addToolBar(tr("Edit"));
  bar->setObjectName("editToolBar");
  bar->setMovable(false);
  for (QAction* a : m_toolGroup->actions())
    bar->addAction(a);
  bar->addWidget(new QLabel(tr(" Brush "), bar));
  m_brushSizeSpin = new QDoubleSpinBox(bar);
  m_brushSizeSpin->setObjectName("brushRadiusMm");
  m_brushSizeSpin->setRange(0.25, 50.0);
  m_brushSizeSpin->setSingleStep(0.5);
  m_brushSizeSpin->setSuffix(tr(" mm"));
  m_brushSizeSpin->setToolTip(tr("Brush radius in mm (+/- while a paint tool is active)"));
  couple(m_brushSizeSpin,
         PropertyModel<double>{ [this] { return m_edit->brushRadiusMm(); },
                                [this](double mm) { m_edit->setBrushRadiusMm(mm); } },
         m_edit, &EditController::settingsChanged);
  bar->addWidget(m_brushSizeSpin);
  m_brush3DAction->setIconText(tr("3D"));
  bar->addAction(m_brush3DAction);
  bar->addWidget(new QLabel(tr(" Box slices "), bar));
  m_boxSlicesSpin = new QSpinBox(bar);
  m_boxSlicesSpin->setObjectName("boxSlices");
  m_boxSlicesSpin->setRange(1, 2048);
  m_boxSlicesSpin->setValue(m_edit->boxSlices());
  m_boxSlicesSpin->setToolTip(tr("Slices a new box prompt spans through the view (drag on a second view to adjust)"));
  connect(m_boxSlicesSpin, &QSpinBox::valueChanged, m_edit, &EditController::setBoxSlices);
  bar->addWidget(m_boxSlicesSpin);
  bar->addWidget(new QLabel(tr(" Label "), bar));
  m_labelSpin = new QSpinBox(bar);
  m_labelSpin->setObjectName("activeLabel");
  m_labelSpin->setRange(1, 255);
  couple(m_labelSpin,
         PropertyModel<int>{ [this] { return m_edit->activeLabel(); }, [this](int v) { m_edit->setActiveLabel(v); } },
         m_edit, &EditController::settingsChanged);
  bar->addWidget(m_labelSpin);
  // The picker names the labels of the shown mask's table (swatch + name); choosing one sets
  // the spin box, which still takes any value 1..255.
  m_labelPicker = new QComboBox(bar);
  m_labelPicker->setObjectName("labelPicker");
  m_labelPicker->setToolTip(tr("Label to paint (Edit > Labels... renames and recolours)"));
  m_labelPicker->setSizeAdjustPolicy(QComboBox::AdjustToContents);
  connect(m_labelPicker, &QComboBox::activated, this,
          [this](int index)
          {
            const int value = m_labelPicker->itemData(index).toInt();
            if (value > 0)
              m_labelSpin->setValue(value);
          });
  // The picker marks the active label, whoever changed it.
  connect(m_edit, &EditController::settingsChanged, this, &MainWindow::refreshLabelPicker);
  connect(m_model, &ViewerModel::labelTableChanged, this, &MainWindow::refreshLabelPicker);
  // Labels present are counted when a mask is shown (one pass), not on every edit.
  connect(m_model, &ViewerModel::maskChanged, this,
          [this]
          {
            m_presentLabels = m_model->hasMask() ? m_model->mask().labels() : std::vector<int>{};
            refreshLabelPicker();
          });
  bar->addWidget(m_labelPicker);
  auto* labelsButton = bar->addAction(tr("Labels..."), this, &MainWindow::editLabelTable);
  labelsButton->setToolTip(m_labelsAction->toolTip());
  m_thresholdAction->setIconText(tr("Threshold"));
  bar->addAction(m_thresholdAction);
  m_thresholdMinSpin = new QDoubleSpinBox(bar);
  m_thresholdMaxSpin = new QDoubleSpinBox(bar);
  for (QDoubleSpinBox* s : {m_thresholdMinSpin, m_thresholdMaxSpin})
  {
    s->setRange(-100000.0, 100000.0);
    s->setDecimals(0);
    bar->addWidget(s);
  }
  m_thresholdMinSpin->setToolTip(tr("Paint only voxels with intensity >= this"));
  m_thresholdMaxSpin->setToolTip(tr("Paint only voxels with intensity <= this"));
  // The range's ends show and set the controller's threshold (kept while it is switched off).
  auto end = [this](float edit::IntensityRange::*field)
  {
    return PropertyModel<double>{ [this, field] { return double(m_edit->threshold().*field); },
                                  [this, field](double v)
                                  {
                                    edit::IntensityRange r = m_edit->threshold();
                                    r.*field = static_cast<float>(v);
                                    m_edit->setThreshold(r);
                                  } };
  };
  couple(m_thresholdMinSpin, end(&edit::IntensityRange::minimum), m_edit, &EditController::settingsChanged);
  couple(m_thresholdMaxSpin, end(&edit::IntensityRange::maximum), m_edit, &EditController::settingsChanged);
  bar->addSeparator();
  m_undoAction->setIconText(tr("Undo"));
  m_redoAction->setIconText(tr("Redo"));
  bar->addAction(m_undoAction);
  bar->addAction(m_redoAction);
}

void MainWindow::refreshLabelPicker()
{
  if (!m_labelPicker)
    return;
  const QSignalBlocker block(m_labelPicker);
  m_labelPicker->clear();
  const LabelTable& table = m_model->labelTable();
  std::vector<int> values = m_presentLabels;
  values.push_back(m_labelSpin->value()); // the active label is always listed
  int current = -1;
  for (const LabelInfo& l : table.entriesWith(values))
  {
    if (l.value == m_labelSpin->value())
      current = m_labelPicker->count();
    m_labelPicker->addItem(labelSwatch(l.color), QString("%1  %2").arg(l.value).arg(QString::fromStdString(l.name)),
                           l.value);
  }
  m_labelPicker->setCurrentIndex(current);
}

void MainWindow::editLabelTable()
{
  const std::vector<int> present = m_model->hasMask() ? m_model->mask().labels() : std::vector<int>{};
  auto* dialog = new LabelTableDialog(m_model->labelTable(), present, this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  connect(dialog, &QDialog::accepted, this,
          [this, dialog]
          {
            m_model->setLabelTable(dialog->table());
            statusBar()->showMessage(tr("Labels changed; they are saved with the next mask version."), 8000);
          });
  dialog->open();
}

bool MainWindow::confirmUnsavedEdits(const QString& action)
{
  if (!m_edit || !m_edit->isModified())
    return true;
  QMessageBox box(
      QMessageBox::Warning, tr("Unsaved Mask Edits"),
      tr("The mask has edits that are not saved as a version. Save them before %1?").arg(action),
      QMessageBox::NoButton, this);
  QPushButton* save = m_saveMaskHandler
                          ? box.addButton(tr("Save as New Version"), QMessageBox::AcceptRole)
                          : nullptr;
  QPushButton* saveFile = box.addButton(tr("Save as File..."), QMessageBox::AcceptRole);
  QPushButton* discard = box.addButton(tr("Discard Edits"), QMessageBox::DestructiveRole);
  box.addButton(QMessageBox::Cancel);
  box.exec();
  if (save && box.clickedButton() == save)
    return m_saveMaskHandler();
  if (box.clickedButton() == saveFile)
    return saveMaskAsInteractive();
  if (box.clickedButton() == discard)
  {
    m_edit->discardRecovery();
    m_edit->markSaved(); // nothing left to save
    return true;
  }
  return false;
}

namespace
{
bool isMaskFileName(const QString& path)
{
  const QString n = path.toLower();
  for (const char* ext : { ".nii.gz", ".nii", ".nrrd", ".mha", ".mhd" })
    if (n.endsWith(QLatin1String(ext)) && n.size() > int(qstrlen(ext)))
      return true;
  return false;
}
} // namespace

bool MainWindow::saveMaskAs(const QString& path)
{
  if (!m_model->hasMask())
  {
    showError(tr("Save Mask"), tr("There is no mask to save: open or predict one first."));
    return false;
  }
  if (!isMaskFileName(path))
  {
    showError(tr("Save Mask"), tr("Cannot save a mask as %1: choose a .nii.gz, .nii, .nrrd, .mha or .mhd file "
                                  "(DICOM SEG: Study browser > Export, or panseg export-seg).")
                                   .arg(QFileInfo(path).fileName()));
    return false;
  }
  try
  {
    writeMask(m_model->mask(), path.toStdString());
  }
  catch (const std::exception& e)
  {
    showError(tr("Save Mask"), tr("The mask was not saved to %1: %2").arg(path, QString::fromUtf8(e.what())));
    return false;
  }
  if (m_edit)
    m_edit->markSaved();
  m_maskPath = QFileInfo(path).absoluteFilePath();
  updateTitle();
  showStatus(tr("Mask saved to %1").arg(path));
  return true;
}

bool MainWindow::saveMaskAsInteractive()
{
  if (!m_model->hasMask())
  {
    showError(tr("Save Mask"), tr("There is no mask to save: open or predict one first."));
    return false;
  }
  QString suggestion = m_maskPath;
  if (!isMaskFileName(suggestion))
  {
    QString base = QFileInfo(m_imagePath).fileName();
    for (const char* ext : { ".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd" })
      if (base.endsWith(QLatin1String(ext), Qt::CaseInsensitive))
        base.chop(int(qstrlen(ext)));
    suggestion = QFileInfo(m_imagePath).dir().filePath((base.isEmpty() ? QStringLiteral("mask") : base) +
                                                       QStringLiteral("_seg.nii.gz"));
  }
  const QString path = QFileDialog::getSaveFileName(
      this, tr("Save Mask As"), suggestion, tr("Label maps (*.nii.gz *.nii *.nrrd *.mha *.mhd)"));
  return !path.isEmpty() && saveMaskAs(path);
}

} // namespace panseg::ui
