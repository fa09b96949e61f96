// Issue 14: property binding (ui/PropertyBinding.h) — a widget coupled to a view-model value
// shows it, follows its changes without writing them back, writes a user's change once, and
// follows the "enabled" rule; and the main window's overlay and brush controls are coupled so.
#include "SyntheticData.h"

#include "ui/EditController.h"
#include "ui/MainWindow.h"
#include "ui/PropertyBinding.h"
#include "ui/ViewerModel.h"

#include <QAction>
#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QSlider>
#include <QSpinBox>
#include <QtTest>

using namespace panseg;
using namespace panseg::ui;

/// A view model with a few values and one change signal, as EditController or ViewerModel have.
class Settings : public QObject
{
  Q_OBJECT
public:
  double radius = 2.5;
  int label = 1;
  bool on = false;
  int writes = 0; // set calls
  void setRadius(double r)
  {
    ++writes;
    if (r == radius)
      return;
    radius = r;
    emit changed();
  }
  void setLabel(int l)
  {
    ++writes;
    label = std::clamp(l, 1, 3); // the model may refuse part of a value
    emit changed();
  }
  void setOn(bool b)
  {
    ++writes;
    on = b;
    emit changed();
  }
signals:
  void changed();
};

class TestPropertyBinding : public QObject
{
  Q_OBJECT
private slots:
  void widgetsFollowTheModelAndWriteOnce()
  {
    Settings s;
    QDoubleSpinBox radius;
    radius.setRange(0, 100);
    QSpinBox label;
    label.setRange(0, 10);
    QCheckBox on;
    QSlider slider;
    slider.setRange(0, 100);
    couple(&radius, PropertyModel<double>{ [&] { return s.radius; }, [&](double v) { s.setRadius(v); } }, &s,
           &Settings::changed);
    couple(&label, PropertyModel<int>{ [&] { return s.label; }, [&](int v) { s.setLabel(v); } }, &s, &Settings::changed);
    couple(static_cast<QAbstractButton*>(&on),
           PropertyModel<bool>{ [&] { return s.on; }, [&](bool b) { s.setOn(b); } }, &s, &Settings::changed);
    couple(&slider,
           PropertyModel<int>{ [&] { return static_cast<int>(s.radius * 10); },
                               [&](int v) { s.setRadius(v / 10.0); }, [&] { return s.on; } },
           &s, &Settings::changed);
    // Shown at once, nothing written.
    QCOMPARE(radius.value(), 2.5);
    QCOMPARE(label.value(), 1);
    QVERIFY(!on.isChecked());
    QCOMPARE(slider.value(), 25);
    QVERIFY(!slider.isEnabled()); // the enabled rule
    QCOMPARE(s.writes, 0);

    // The model changes: every widget follows, and none writes the value back.
    s.radius = 4.0;
    s.on = true;
    emit s.changed();
    QCOMPARE(radius.value(), 4.0);
    QCOMPARE(slider.value(), 40);
    QVERIFY(on.isChecked());
    QVERIFY(slider.isEnabled());
    QCOMPARE(s.writes, 0);

    // The user changes a widget: one write, and the other widgets of the same value follow.
    radius.setValue(6.0);
    QCOMPARE(s.writes, 1);
    QCOMPARE(s.radius, 6.0);
    QCOMPARE(slider.value(), 60);
    // The model refuses part of a value: the widget shows what the model kept.
    label.setValue(7);
    QCOMPARE(s.label, 3);
    QCOMPARE(label.value(), 3);
    QCOMPARE(s.writes, 2);
    on.click();
    QVERIFY(!s.on);
    QVERIFY(!slider.isEnabled());
    QCOMPARE(s.writes, 3);
  }

  void mainWindowControlsAreCoupled()
  {
    MainWindow w;
    w.setImage(synthetic::ct());
    ViewerModel* model = w.model();
    auto* opacity = w.findChild<QSlider*>("opacitySlider");
    QVERIFY(opacity);
    // The model's overlay style reaches the slider (and its enabled rule: Fill only)...
    model->setOverlayOpacity(0.3);
    QCOMPARE(opacity->value(), 30);
    model->setOverlayMode(OverlayMode::Outline);
    QVERIFY(!opacity->isEnabled());
    model->setOverlayMode(OverlayMode::Fill);
    QVERIFY(opacity->isEnabled());
    // ... and the slider reaches the model.
    opacity->setValue(80);
    QCOMPARE(model->overlayStyle().opacity, 0.8);

    // The brush radius in the edit toolbar and the editor's value are one.
    auto* brush = w.findChild<QDoubleSpinBox*>("brushRadiusMm");
    QVERIFY(brush);
    QVERIFY(w.editController());
    w.editController()->setBrushRadiusMm(7.5);
    QCOMPARE(brush->value(), 7.5);
    brush->setValue(3.0);
    QCOMPARE(w.editController()->brushRadiusMm(), 3.0);
    auto* brush3D = w.findChild<QAction*>("brush3D");
    QVERIFY(brush3D);
    brush3D->trigger();
    QVERIFY(w.editController()->brush3D());
    w.editController()->setBrush3D(false);
    QVERIFY(!brush3D->isChecked());
  }
};

QTEST_MAIN(TestPropertyBinding)
#include "tst_property_binding.moc"
