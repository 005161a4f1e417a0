using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Security;

/// <summary>A payload as the event log may show it.</summary>
public sealed record RedactedJson(string Json, bool Redacted);

/// <summary>
/// Masks the values of fields whose names look like secrets, at any depth, and the <c>value</c> of name/value pairs whose
/// name does (<c>{"name":"password","value":"…"}</c>). A configured word of four letters or more matches anywhere in a field
/// name, ignoring case, '_' and '-' (<c>db_password</c>, <c>accessToken</c>, <c>API-Key</c>); a shorter one (<c>pin</c>,
/// <c>otp</c>) only as a whole word of the name (<c>card_pin</c>, <c>otpCode</c>, not <c>shipping</c>).
/// </summary>
public sealed class PayloadRedactor
{
    public const string Mask = "[REDACTED]";

    /// <summary>Members that name the field of a name/value pair, and the member that holds its value.</summary>
    private static readonly string[] PairNames = ["name", "key", "field"];
    private const string PairValue = "value";

    private readonly string[] _joined;
    private readonly string[] _short;

    public PayloadRedactor(IOptions<SecurityOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var words = options.Value.RedactedFieldNames
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(Normalize)
            .Where(w => w.Length > 0)
            .Distinct(StringComparer.Ordinal)
            .ToArray();
        _joined = [.. words.Where(w => w.Length >= 4)];
        _short = [.. words.Where(w => w.Length < 4)];
    }

    public bool IsSensitive(string fieldName)
    {
        ArgumentNullException.ThrowIfNull(fieldName);
        var name = Normalize(fieldName);
        if (_joined.Any(w => name.Contains(w, StringComparison.Ordinal)))
        {
            return true;
        }

        return _short.Length > 0 && Words(fieldName).Any(word => _short.Contains(word, StringComparer.Ordinal));
    }

    public RedactedJson Redact(string json)
    {
        var node = JsonNode.Parse(json);
        var redacted = Walk(node);
        return redacted ? new RedactedJson(node!.ToJsonString(Model.ApiJson.Options), true) : new RedactedJson(json, false);
    }

    private bool Walk(JsonNode? node)
    {
        var redacted = false;
        switch (node)
        {
            case JsonObject obj:
                if (IsSensitivePair(obj))
                {
                    obj[PairValue] = Mask;
                    redacted = true;
                }

                foreach (var name in obj.Select(p => p.Key).ToList())
                {
                    if (IsSensitive(name))
                    {
                        obj[name] = Mask;
                        redacted = true;
                    }
                    else
                    {
                        redacted |= Walk(obj[name]);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    redacted |= Walk(item);
                }

                break;
        }

        return redacted;
    }

    private bool IsSensitivePair(JsonObject obj)
    {
        if (!obj.TryGetPropertyValue(PairValue, out var value)
            || (value is JsonValue masked && masked.TryGetValue<string>(out var text) && text == Mask))
        {
            return false;
        }

        return PairNames.Any(n => obj.TryGetPropertyValue(n, out var name)
            && name is JsonValue nameValue && nameValue.TryGetValue<string>(out var field) && IsSensitive(field));
    }

    private static string Normalize(string name) =>
        new(Canonical(name).Where(char.IsLetterOrDigit).Select(char.ToLowerInvariant).ToArray());

    /// <summary>
    /// The name as its letters read: full-width forms folded to ASCII (<c>ｐａｓｓｗｏｒｄ</c>) and invisible format characters
    /// (zero-width spaces and joiners) dropped, so a look-alike name is masked like the name it imitates. (By hand: the app runs
    /// with invariant globalization, where <see cref="string.Normalize()"/> leaves such text as it is.)
    /// </summary>
    private static string Canonical(string name)
    {
        var folded = new System.Text.StringBuilder(name.Length);
        foreach (var c in name)
        {
            if (c is >= '\uFF01' and <= '\uFF5E')
            {
                folded.Append((char)(c - 0xFEE0));
            }
            else if (char.GetUnicodeCategory(c) != System.Globalization.UnicodeCategory.Format)
            {
                folded.Append(c);
            }
        }

        return folded.ToString();
    }

    /// <summary>The words of a field name: split at '_', '-', spaces and other separators, and at camelCase boundaries.</summary>
    private static IEnumerable<string> Words(string name)
    {
        name = Canonical(name);
        var word = new System.Text.StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (!char.IsLetterOrDigit(c))
            {
                if (word.Length > 0)
                {
                    yield return word.ToString();
                    word.Clear();
                }

                continue;
            }

            var boundary = word.Length > 0 && char.IsUpper(c)
                && (char.IsLower(name[i - 1]) || (i + 1 < name.Length && char.IsLower(name[i + 1]) && char.IsUpper(name[i - 1])));
            if (boundary)
            {
                yield return word.ToString();
                word.Clear();
            }

            word.Append(char.ToLowerInvariant(c));
        }

        if (word.Length > 0)
        {
            yield return word.ToString();
        }
    }
}
