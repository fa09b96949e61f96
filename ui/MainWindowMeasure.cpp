// MainWindow: the Measurements dock (core/measure through MeasurementsPanel), View >
// Measurements and View > Clear Rulers (Esc). The Ruler tool itself is an Edit tool (L); the
// slice views draw the rulers. See docs/editing.md, "Measuring".
#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/MeasurementsPanel.h"
#include "ui/ViewerModel.h"

#include <QAction>
#include <QDockWidget>
#include <QMenu>
#include <QToolBar>

namespace panseg::ui
{
void MainWindow::buildMeasurements()
{
  m_measurePanel = new MeasurementsPanel(m_model, m_edit, this);
  m_measureDock = new QDockWidget(tr("Measurements"), this);
  m_measureDock->setObjectName("measurementsDock");
  m_measureDock->setWidget(m_measurePanel);
  addDockWidget(Qt::RightDockWidgetArea, m_measureDock);
  m_measureDock->hide();

  QAction* toggle = m_measureDock->toggleViewAction();
  toggle->setObjectName("measurementsAction");
  toggle->setText(tr("&Measurements"));
  toggle->setIconText(tr("Measure"));
  toggle->setToolTip(tr("Volume, mean HU ± SD, extent and axis lengths of the active label; rulers (Ctrl+Shift+M)"));
  toggle->setShortcut(QKeySequence(tr("Ctrl+Shift+M")));
  m_clearRulersAction = new QAction(tr("&Clear Rulers"), this);
  m_clearRulersAction->setObjectName("clearRulers");
  // Esc reaches the action only while there are rulers; otherwise it goes to the focused widget.
  m_clearRulersAction->setShortcut(QKeySequence(Qt::Key_Escape));
  m_clearRulersAction->setShortcutContext(Qt::WindowShortcut);
  m_clearRulersAction->setEnabled(false);
  connect(m_clearRulersAction, &QAction::triggered, m_model, &ViewerModel::clearRulers);
  if (m_viewMenu)
  {
    m_viewMenu->addSeparator();
    m_viewMenu->addAction(toggle);
    m_viewMenu->addAction(m_clearRulersAction);
  }
  if (auto* bar = findChild<QToolBar*>("editToolBar"))
  {
    bar->addSeparator();
    bar->addAction(toggle);
  }
  connect(m_model, &ViewerModel::rulersChanged, this,
          [this]
          {
            const auto& rulers = m_model->rulers();
            m_clearRulersAction->setEnabled(!rulers.empty());
            if (!rulers.empty())
              showStatus(tr("Ruler %1: %2 (Esc clears the rulers)")
                             .arg(rulers.size())
                             .arg(ViewerModel::rulerText(rulers.back().lengthMm)));
          });
}
} // namespace panseg::ui
