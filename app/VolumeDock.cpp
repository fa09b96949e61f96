// The Volumes dock in the workstation: Study > Pancreas volumes... (created on first use).
#include "VolumeCommands.h"

#include "ui/MainWindow.h"
#include "ui/StudyBrowser.h"
#include "ui/VolumeTableView.h"

#include <QDockWidget>
#include <QMenu>

namespace panseg::cli
{
void attachVolumeTable(ui::MainWindow& w, ui::StudyBrowser* browser, QMenu* menu)
{
  QDockWidget* dock = nullptr;
  menu->addAction(QObject::tr("Pancreas &volumes..."), &w, [&w, browser, dock]() mutable {
    if (!dock)
    {
      auto* view = new ui::VolumeTableView;
      view->setSoftwareVersion(PANSEG_VERSION);
      dock = new QDockWidget(QObject::tr("Volumes"), &w);
      dock->setObjectName("VolumeTableDock");
      dock->setWidget(view);
      w.addDockWidget(Qt::BottomDockWidgetArea, dock);
    }
    auto* view = static_cast<ui::VolumeTableView*>(dock->widget());
    view->setDatabase(browser->database()); // also refreshes: imports and approvals since last time
    dock->show();
    dock->raise();
  });
}
} // namespace panseg::cli
