// The reader-study dock in the main window: opening a read shows its series and starting mask
// through the window's usual path; "Submit shown mask" submits what the viewer shows.
#include "StudyCommands.h"

#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/ReaderStudyPanel.h"
#include "ui/ViewerModel.h"

#include <QDockWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QStatusBar>

namespace panseg::cli
{
void attachReaderStudyPanel(ui::MainWindow& w)
{
  auto* panel = new ui::ReaderStudyPanel;
  auto* dock = new QDockWidget(QObject::tr("Reader study"), &w);
  dock->setObjectName("ReaderStudyDock");
  dock->setWidget(panel);
  w.addDockWidget(Qt::RightDockWidgetArea, dock);
  QString error;
  if (!panel->openDatabase({}, &error))
    w.statusBar()->showMessage(QObject::tr("Reader studies unavailable: %1").arg(error), 10000);
  dock->setVisible(panel->currentStudyId() > 0); // shown for users with a study
  QObject::connect(panel, &ui::ReaderStudyPanel::readOpened, &w,
                   [&w, panel](int64_t readId, int64_t seriesId)
                   {
                     try
                     {
                       w.setImage(panel->loadImage(seriesId));
                       w.setMask(panel->startingMask(readId));
                     }
                     catch (const std::exception& e)
                     {
                       QMessageBox::warning(&w, QObject::tr("Open read"),
                                            QString::fromUtf8(e.what()));
                     }
                   });
  QObject::connect(panel, &ui::ReaderStudyPanel::submitRequested, &w,
                   [&w, panel](int64_t)
                   {
                     if (!w.model()->hasMask())
                     {
                       QMessageBox::information(
                           &w, QObject::tr("Submit"),
                           QObject::tr("Open a read first: no mask is shown."));
                       return;
                     }
                     if (panel->submitOpenedRead(w.model()->mask()) > 0 && w.editController())
                       w.editController()->markSaved();
                   });
  for (QAction* a : w.menuBar()->actions())
    if (a->menu() && a->text().remove('&') == QObject::tr("Study"))
      a->menu()->addAction(dock->toggleViewAction());
}
} // namespace panseg::cli
