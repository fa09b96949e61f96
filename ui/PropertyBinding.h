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
/// Couples `w` to `p`: `changed` (the widget's user-change signal) calls set(); `show` (the
/// widget's setter) shows get() now and whenever `sender` emits `signal`, under a signal blocker.
template <class Widget, class T, class Changed, class Show, class Sender, class Signal>
void coupleWidget(Widget* w, PropertyModel<T> p, Changed changed, Show show, Sender* sender, Signal signal)
{
  QObject::connect(w, changed, w, [set = p.set](T v) { set(v); });
  auto update = [w, p, show]
  {
    const QSignalBlocker block(w);
    (w->*show)(p.get());
    if (p.enabled)
      w->setEnabled(p.enabled());
  };
  QObject::connect(sender, signal, w, update);
  update();
}
} // namespace detail

/// A double spin box showing and editing a double property.
template <class Sender, class Signal>
void couple(QDoubleSpinBox* w, PropertyModel<double> p, Sender* sender, Signal signal)
{
  detail::coupleWidget(w, std::move(p), &QDoubleSpinBox::valueChanged, &QDoubleSpinBox::setValue, sender, signal);
}

/// A spin box showing and editing an int property.
template <class Sender, class Signal>
void couple(QSpinBox* w, PropertyModel<int> p, Sender* sender, Signal signal)
{
  detail::coupleWidget(w, std::move(p), &QSpinBox::valueChanged, &QSpinBox::setValue, sender, signal);
}

/// A slider (or dial) showing and editing an int property.
template <class Sender, class Signal>
void couple(QAbstractSlider* w, PropertyModel<int> p, Sender* sender, Signal signal)
{
  detail::coupleWidget(w, std::move(p), &QAbstractSlider::valueChanged, &QAbstractSlider::setValue, sender, signal);
}

/// A checkable action (menu item, tool button) showing and editing a bool property.
template <class Sender, class Signal>
void couple(QAction* a, PropertyModel<bool> p, Sender* sender, Signal signal)
{
  a->setCheckable(true);
  detail::coupleWidget(a, std::move(p), &QAction::toggled, &QAction::setChecked, sender, signal);
}

/// A check box or other checkable button showing and editing a bool property.
template <class Sender, class Signal>
void couple(QAbstractButton* b, PropertyModel<bool> p, Sender* sender, Signal signal)
{
  b->setCheckable(true);
  detail::coupleWidget(b, std::move(p), &QAbstractButton::toggled, &QAbstractButton::setChecked, sender, signal);
}
} // namespace panseg::ui
