using System.Text.Json;

namespace AgentRuns.Functions.Schemas;

/// <summary>
/// The references of a response schema, checked before the schema is accepted. Evaluating a schema once (as
/// <see cref="ResponseSchemas.Check"/> does) resolves only the references on the paths that evaluation takes, so a schema
/// could hide, behind <c>properties</c> or <c>if</c>, a reference that cannot be resolved (the first answer that reached it
/// failed with a 500) or one that loops without moving into the answer (<c>{"properties":{"x":{"$ref":"#/properties/x"}}}</c>:
/// the first answer with an <c>x</c> overflowed the stack and took the process down). So, over the whole schema:
/// <list type="bullet">
/// <item>every <c>$ref</c> is a JSON pointer into the schema itself (<c>#</c> or <c>#/…</c>) that resolves to a schema;</item>
/// <item><c>$id</c> only at the root (a nested one would move the base of the references under it), no <c>$dynamicRef</c>;</item>
/// <item>no chain of references comes back to where it started without moving into the answer (through <c>allOf</c>,
/// <c>anyOf</c>, <c>oneOf</c>, <c>not</c>, <c>if</c>/<c>then</c>/<c>else</c>, <c>dependentSchemas</c> only). Recursion through
/// <c>properties</c>, <c>items</c> and the like is allowed: each step goes one level down a finite answer.</item>
/// </list>
/// </summary>
internal static class SchemaReferences
{
    /// <summary>The keywords that apply their schemas to the same value: the ones a reference loop can spin through.</summary>
    private static readonly string[] InPlaceSingle = ["not", "if", "then", "else"];

    private static readonly string[] InPlaceArrays = ["allOf", "anyOf", "oneOf"];

    /// <summary>Why the schema's references are refused, or null when they are fine.</summary>
    public static string? Refuse(JsonElement root)
    {
        if (Shape(root, root, isRoot: true) is { } refused)
        {
            return refused;
        }

        // Every reference resolves: look for a loop among the schemas they point at (the root is where evaluation starts).
        var targets = new Dictionary<string, JsonElement>(StringComparer.Ordinal) { ["#"] = root };
        CollectTargets(root, root, targets);
        var state = new Dictionary<string, bool>(StringComparer.Ordinal); // false: on the current path; true: done, no loop
        foreach (var target in targets.Keys)
        {
            if (Loops(target, root, targets, state))
            {
                return $"the reference '{target}' leads back to itself without moving into the value (an endless loop).";
            }
        }

        return null;
    }

    /// <summary>The references' shapes: local pointers that resolve, nested <c>$id</c> and <c>$dynamicRef</c> refused.</summary>
    private static string? Shape(JsonElement element, JsonElement root, bool isRoot)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var member in element.EnumerateObject())
                {
                    if (member.Name == "$dynamicRef" || member.Name == "$dynamicAnchor")
                    {
                        return $"'{member.Name}' is not supported in a response schema; use '$ref' to '#/$defs/…'.";
                    }

                    if (member.Name == "$id" && !isRoot && member.Value.ValueKind == JsonValueKind.String)
                    {
                        return "'$id' is allowed only at the root of a response schema.";
                    }

                    if (member.Name == "$ref" && member.Value.ValueKind == JsonValueKind.String && Resolve(root, member.Value.GetString()!) is null)
                    {
                        return $"'$ref' must point into the schema itself ('#' or '#/…' to a schema in it), not '{Short(member.Value.GetString()!)}'.";
                    }

                    if (Shape(member.Value, root, isRoot: false) is { } refused)
                    {
                        return refused;
                    }
                }

                return null;
            case JsonValueKind.Array:
                return element.EnumerateArray().Select(e => Shape(e, root, isRoot: false)).FirstOrDefault(r => r is not null);
            default:
                return null;
        }
    }

    private static void CollectTargets(JsonElement element, JsonElement root, Dictionary<string, JsonElement> targets)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var member in element.EnumerateObject())
            {
                if (member.Name == "$ref" && member.Value.ValueKind == JsonValueKind.String)
                {
                    var reference = member.Value.GetString()!;
                    targets.TryAdd(Normal(reference), Resolve(root, reference)!.Value);
                }

                CollectTargets(member.Value, root, targets);
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                CollectTargets(item, root, targets);
            }
        }
    }

    /// <summary>Whether following <paramref name="target"/>'s references in place comes back to a schema on the current path.</summary>
    private static bool Loops(string target, JsonElement root, Dictionary<string, JsonElement> targets, Dictionary<string, bool> state)
    {
        if (state.TryGetValue(target, out var done))
        {
            return !done;
        }

        state[target] = false;
        foreach (var next in InPlaceReferences(targets[target]))
        {
            if (Loops(next, root, targets, state))
            {
                return true;
            }
        }

        state[target] = true;
        return false;
    }

    /// <summary>The references a schema applies to the same value: its own <c>$ref</c> and those of its in-place subschemas.</summary>
    private static IEnumerable<string> InPlaceReferences(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            yield break;
        }

        if (schema.TryGetProperty("$ref", out var reference) && reference.ValueKind == JsonValueKind.String)
        {
            yield return Normal(reference.GetString()!);
        }

        var inPlace = new List<JsonElement>();
        foreach (var name in InPlaceSingle)
        {
            if (schema.TryGetProperty(name, out var sub))
            {
                inPlace.Add(sub);
            }
        }

        foreach (var name in InPlaceArrays)
        {
            if (schema.TryGetProperty(name, out var subs) && subs.ValueKind == JsonValueKind.Array)
            {
                inPlace.AddRange(subs.EnumerateArray());
            }
        }

        if (schema.TryGetProperty("dependentSchemas", out var dependent) && dependent.ValueKind == JsonValueKind.Object)
        {
            inPlace.AddRange(dependent.EnumerateObject().Select(p => p.Value));
        }

        foreach (var sub in inPlace)
        {
            foreach (var found in InPlaceReferences(sub))
            {
                yield return found;
            }
        }
    }

    /// <summary>The schema a local reference points at, or null when it is not a pointer into this schema or finds no schema.</summary>
    private static JsonElement? Resolve(JsonElement root, string reference)
    {
        if (reference is not ("#" or ['#', '/', ..]))
        {
            return null;
        }

        var at = root;
        foreach (var encoded in Normal(reference)[1..].Split('/', StringSplitOptions.None).Skip(1))
        {
            var token = encoded.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (at.ValueKind == JsonValueKind.Object && at.TryGetProperty(token, out var member))
            {
                at = member;
            }
            else if (at.ValueKind == JsonValueKind.Array && int.TryParse(token, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index)
                     && index < at.GetArrayLength())
            {
                at = at[index];
            }
            else
            {
                return null;
            }
        }

        return at.ValueKind is JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False ? at : null;
    }

    /// <summary>A reference as one key: its fragment percent-decoded (<c>#/$defs/a%20b</c> and <c>#/$defs/a b</c> are one).</summary>
    private static string Normal(string reference)
    {
        try
        {
            return Uri.UnescapeDataString(reference);
        }
        catch (UriFormatException)
        {
            return reference;
        }
    }

    private static string Short(string value) => value.Length <= 100 ? value : value[..100] + "…";
}
