// Record pickers that search as you type (/lookup/<resource>?q=...), for tables too large for a
// drop-down (patients, appointments, invoices). Works for form fields and for the search filters
// that Flask-AppBuilder adds to the page later.
(function ($) {
    "use strict";

    function scopeFromUrl(name) {
        var found = "";
        new URLSearchParams(window.location.search).forEach(function (value, key) {
            if (!found && new RegExp("^_flt_\\d+_" + name + "$").test(key)) {
                found = value;
            }
        });
        return found;
    }

    function init(element) {
        var $el = $(element);
        if ($el.data("select2") || !$el.data("url")) {
            return;
        }
        // A filter restored from the URL: fetch the chosen record's label.
        var name = $el.attr("name");
        var current = name && new URLSearchParams(window.location.search).get(name);
        if (current && !$el.find("option[value='" + current + "']").length) {
            $.getJSON($el.data("url"), {id: current}, function (data) {
                (data.results || []).forEach(function (item) {
                    $el.append(new Option(item.text, item.id, true, true)).trigger("change");
                });
            });
        }
        $el.select2({
            theme: "bootstrap",
            width: "100%",
            allowClear: !$el.prop("required"),
            placeholder: $el.data("placeholder") || "",
            minimumInputLength: 0,
            ajax: {
                url: $el.data("url"),
                dataType: "json",
                delay: 250,
                data: function (params) {
                    var query = {q: params.term || ""};
                    var scope = $el.data("scope");
                    if (scope) {
                        // Only the chosen patient's records: the form's patient, or the parent
                        // the page was opened from (FAB's "_flt_<n>_patient" in the URL).
                        var value = $el.closest("form").find("[name='" + scope + "']").val() ||
                            scopeFromUrl(scope);
                        if (value) {
                            query[scope] = value;
                        }
                    }
                    return query;
                },
                processResults: function (data) { return {results: data.results || []}; }
            }
        });
    }

    $(function () {
        $("select.remote-select").each(function () { init(this); });
        new MutationObserver(function (mutations) {
            mutations.forEach(function (mutation) {
                $(mutation.addedNodes).find("select.remote-select").addBack("select.remote-select").each(function () {
                    init(this);
                });
            });
        }).observe(document.body, {childList: true, subtree: true});
    });
}(jQuery));
