// View > Save Screenshot of Active View / of All Views and Copy View to Clipboard: what the
// radiologist sees in the views (no menus, docks or status bar), as PNG or on the clipboard.
#include "ui/MainWindow.h"
#include "ui/SliceView.h"
#include "ui/SurfaceView.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QPainter>
#include <QStatusBar>

namespace panseg::ui
{
namespace
{
QString viewName(MainWindow::ViewKind k)
{
  switch (k)
  {
  case MainWindow::ViewKind::Axial:
    return QStringLiteral("axial");
  case MainWindow::ViewKind::Coronal:
    return QStringLiteral("coronal");
  case MainWindow::ViewKind::Sagittal:
    return QStringLiteral("sagittal");
  case MainWindow::ViewKind::Surface3D:
    return QStringLiteral("3d");
  }
  return QStringLiteral("view");
}
} // namespace

void MainWindow::buildCaptureActions(QMenu* view)
{
  // The active view is the one that had the keyboard focus last (a click gives it the focus; a
  // click also counts while the window is not active: MainWindow::eventFilter).
  for (QWidget* v : { static_cast<QWidget*>(m_views[0]), static_cast<QWidget*>(m_views[1]),
                      static_cast<QWidget*>(m_views[2]), m_surfaceWidget })
    if (v)
      v->installEventFilter(this);
  connect(qApp, &QApplication::focusChanged, this,
          [this](QWidget*, QWidget* now)
          {
            for (int i = 0; i < 3; ++i)
              if (now && now == m_views[i])
                m_activeView = i;
            if (now && now == m_surfaceWidget)
              m_activeView = int(ViewKind::Surface3D);
          });
  auto ask = [this](bool grid)
  {
    const QString stamp = QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss");
    const QString name = QString("panseg-%1-%2.png").arg(grid ? QStringLiteral("views") : viewName(activeView()), stamp);
    const QString path = QFileDialog::getSaveFileName(this, grid ? tr("Save Screenshot of All Views")
                                                                 : tr("Save Screenshot of Active View"),
                                                      QDir::home().filePath(name), tr("PNG image (*.png)"));
    if (path.isEmpty())
      return;
    QString error;
    if (!saveViewScreenshot(path, grid, &error))
      showError(tr("Save Screenshot"), error);
  };
  QAction* active = view->addAction(tr("Save Screenshot of &Active View..."), this, [ask] { ask(false); });
  active->setObjectName("saveActiveViewScreenshot");
  active->setToolTip(tr("The view you worked in last (the 3D view included), as PNG"));
  QAction* all = view->addAction(tr("Save Screenshot of A&ll Views..."), this, [ask] { ask(true); });
  all->setObjectName("saveViewGridScreenshot");
  all->setToolTip(tr("The grid of views as shown (without menus and docks), as PNG"));
  QAction* copy = view->addAction(tr("&Copy View to Clipboard"), this, [this] { copyViewToClipboard(false); });
  copy->setObjectName("copyViewToClipboard");
  copy->setShortcut(QKeySequence(tr("Ctrl+Shift+C")));
  copy->setToolTip(tr("The active view as an image, to paste into a report or a message"));
}

MainWindow::ViewKind MainWindow::activeView() const
{
  return static_cast<ViewKind>(m_maximized >= 0 ? m_maximized : m_activeView);
}

QImage MainWindow::captureActiveView()
{
  return grabView(activeView());
}

QImage MainWindow::captureViewGrid()
{
  showCaptureReady();
  if (!m_viewArea)
    return {};
  const qreal dpr = m_viewArea->devicePixelRatioF();
  QImage out(m_viewArea->size() * dpr, QImage::Format_RGB32);
  out.setDevicePixelRatio(dpr);
  out.fill(m_viewArea->palette().color(QPalette::Window)); // the lines between the views
  QPainter p(&out);
  // Each visible view drawn where it sits; the 3D view from its own framebuffer (a plain widget
  // grab does not read what VTK rendered).
  QWidget* all[4] = { m_views[0], m_views[1], m_views[2], m_surfaceWidget };
  for (int i = 0; i < 4; ++i)
  {
    if (!all[i] || !all[i]->isVisible())
      continue;
    const QImage img = grabView(static_cast<ViewKind>(i));
    p.drawImage(QRectF(all[i]->geometry()), img);
  }
  p.end();
  return out;
}

bool MainWindow::saveViewScreenshot(const QString& pathIn, bool wholeGrid, QString* error)
{
  QString path = pathIn;
  if (QFileInfo(path).suffix().isEmpty())
    path += ".png";
  const QImage img = wholeGrid ? captureViewGrid() : captureActiveView();
  QString message;
  if (img.isNull())
    message = tr("Nothing to capture: the views are not shown.");
  else if (!img.save(path, "PNG"))
    message = tr("Could not write %1 (check the folder and its permissions).").arg(QDir::toNativeSeparators(path));
  if (!message.isEmpty())
  {
    if (error)
      *error = message;
    return false;
  }
  showStatus(tr("Saved %1 (%2 x %3 pixels).").arg(QDir::toNativeSeparators(path)).arg(img.width()).arg(img.height()));
  return true;
}

bool MainWindow::copyViewToClipboard(bool wholeGrid)
{
  const QImage img = wholeGrid ? captureViewGrid() : captureActiveView();
  if (img.isNull())
    return false;
  QGuiApplication::clipboard()->setImage(img);
  showStatus(wholeGrid ? tr("Copied the views to the clipboard (%1 x %2 pixels).").arg(img.width()).arg(img.height())
                       : tr("Copied the %1 view to the clipboard (%2 x %3 pixels).")
                           .arg(viewName(activeView()))
                           .arg(img.width())
                           .arg(img.height()));
  return true;
}
} // namespace panseg::ui
