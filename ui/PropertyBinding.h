#pragma once
// Property binding between view models and widgets (ITK-SNAP's property models and widget
// couplings are the example): a view model's value is seen through a PropertyModel (getter,
// setter, optional "enabled" rule), and couple() ties one widget to it both ways:
//  * model -> widget: whenever the model emits its change signal, the widget shows get() (under a
//    signal blocker, so showing a value never writes it back) and follows enabled();
//  * widget -> model: a user change calls set() once.
// This replaces the hand-written "sync controls" methods that copied every value into every
// widget after every change. Widgets only; the view models stay free of widget code.
//
//   couple(m_brushSizeSpin, PropertyModel<double>{ [=] { return edit->brushRadiusMm(); },
//                                                  [=](double v) { edit->setBrushRadiusMm(v); } },
//          edit, &EditController::settingsChanged);
#include <QAbstractButton>
#include <QAbstractSlider>
#include <QAction>
#include <QDoubleSpinBox>
#include <QObject>
#include <QSignalBlocker>
#include <QSpinBox>

#include <functional>
#include <utility>

namespace panseg::ui
{
template <class T>
struct PropertyModel
{
  std::function<T()> get;
  std::function<void(const T&)> set;
  /// Whether the widget is enabled (empty: always).
  std::function<bool()> enabled = {};
};

namespace detail
{
/// The widget's "show the model" step, run now and on every change signal of `sender`.
template <class Widget, class Sender, class Signal, class Show>
void followModel(Widget* widget, Sender* sender, Signal signal, Show show)
{
  QObject::connect(sender, signal, widget, show);
  show();
}
} // namespace detail

/// A double spin box showing and editing a double property.
template <class Sender, class Signal>
void couple(QDoubleSpinBox* w, PropertyModel<double> p, Sender* sender, Signal signal)
{
  QObject::connect(w, &QDoubleSpinBox::valueChanged, w, [set = p.set](double v) { set(v); });
  detail::followModel(w, sender, signal,
                      [w, p]
                      {
                        const QSignalBlocker block(w);
                        w->setValue(p.get());
                        if (p.enabled)
                          w->setEnabled(p.enabled());
                      });
}

/// A spin box showing and editing an int property.
template <class Sender, class Signal>
void couple(QSpinBox* w, PropertyModel<int> p, Sender* sender, Signal signal)
{
  QObject::connect(w, &QSpinBox::valueChanged, w, [set = p.set](int v) { set(v); });
  detail::followModel(w, sender, signal,
                      [w, p]
                      {
                        const QSignalBlocker block(w);
                        w->setValue(p.get());
                        if (p.enabled)
                          w->setEnabled(p.enabled());
                      });
}

/// A slider (or dial) showing and editing an int property.
template <class Sender, class Signal>
void couple(QAbstractSlider* w, PropertyModel<int> p, Sender* sender, Signal signal)
{
  QObject::connect(w, &QAbstractSlider::valueChanged, w, [set = p.set](int v) { set(v); });
  detail::followModel(w, sender, signal,
                      [w, p]
                      {
                        const QSignalBlocker block(w);
                        w->setValue(p.get());
                        if (p.enabled)
                          w->setEnabled(p.enabled());
                      });
}

/// A checkable action (menu item, tool button) showing and editing a bool property.
template <class Sender, class Signal>
void couple(QAction* a, PropertyModel<bool> p, Sender* sender, Signal signal)
{
  a->setCheckable(true);
  QObject::connect(a, &QAction::toggled, a, [set = p.set](bool on) { set(on); });
  detail::followModel(a, sender, signal,
                      [a, p]
                      {
                        const QSignalBlocker block(a);
                        a->setChecked(p.get());
                        if (p.enabled)
                          a->setEnabled(p.enabled());
                      });
}

/// A check box or other checkable button showing and editing a bool property.
template <class Sender, class Signal>
void couple(QAbstractButton* b, PropertyModel<bool> p, Sender* sender, Signal signal)
{
  b->setCheckable(true);
  QObject::connect(b, &QAbstractButton::toggled, b, [set = p.set](bool on) { set(on); });
  detail::followModel(b, sender, signal,
                      [b, p]
                      {
                        const QSignalBlocker block(b);
                        b->setChecked(p.get());
                        if (p.enabled)
                          b->setEnabled(p.enabled());
                      });
}
} // namespace panseg::ui
