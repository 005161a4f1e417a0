using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentRuns.Functions.Model;
using Json.Schema;

namespace AgentRuns.Functions.Schemas;

/// <summary>
/// JSON Schemas (2020-12) that say what a human must send: checked when a request is defined (a plan step, an agent's
/// tool), and applied to answers before anything is written. Hardened for schemas written by API callers: bounded size,
/// no other dialect, no remote <c>$ref</c> is ever fetched (only the schema's own <c>$defs</c> resolve), <c>pattern</c> runs on
/// the linear-time regex engine (a pattern such as <c>^(a+)+$</c> cannot stall the service), and <c>patternProperties</c>
/// (whose regexes the library runs on the backtracking engine) is refused.
/// </summary>
public static class ResponseSchemas
{
    /// <summary>The largest schema, in characters of its JSON text.</summary>
    public const int MaxSchemaChars = 16 * 1024;

    /// <summary>The one dialect accepted in <c>$schema</c>.</summary>
    public const string DialectId = "https://json-schema.org/draft/2020-12/schema";

    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(250);
    private static readonly Dialect SafeDialect = Dialect.Draft202012.With(
        [
            new SafePattern(), new NoPatternProperties(),
            new GuardedRef(), new GuardedDynamicRef(),
        ],
        new Uri(DialectId));
    private static readonly DialectRegistry Dialects = CreateDialects();
    private static readonly ConcurrentDictionary<string, JsonSchema> Built = new(StringComparer.Ordinal);

    static ResponseSchemas()
    {
        // The library falls back to the global registry's fetcher for a $ref it cannot resolve: make sure it fetches nothing.
        SchemaRegistry.Global.Fetch = (_, _) => null;
    }

    /// <summary>Null when <paramref name="schemaJson"/> is a schema this service accepts; else why not.</summary>
    public static string? Check(string schemaJson)
    {
        ArgumentNullException.ThrowIfNull(schemaJson);
        if (schemaJson.Length > MaxSchemaChars)
        {
            return $"response_schema must be at most {MaxSchemaChars} characters of JSON.";
        }

        try
        {
            using var document = JsonDocument.Parse(schemaJson);
            if (document.RootElement.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
            {
                return "response_schema must be a JSON Schema: an object (or true/false).";
            }

            if (OtherDialect(document.RootElement) is { } other)
            {
                return $"response_schema must be JSON Schema 2020-12 ('$schema' may only be '{DialectId}', not '{other}').";
            }

            if (SchemaReferences.Refuse(document.RootElement) is { } badReference)
            {
                return $"response_schema is not a valid JSON Schema: {badReference}";
            }

            if (UncomparableConstant(document.RootElement) is { } constant)
            {
                return $"response_schema has a number in 'const' or 'enum' ({Short(constant)}) outside the range the validator compares "
                    + "(at most 28 significant digits, magnitude below 7.9e28).";
            }

            // Evaluating once resolves every reference: one that points outside the schema fails here, not at the first answer.
            _ = Build(schemaJson).Evaluate(document.RootElement);
            return null;
        }
#pragma warning disable CA1031 // Whatever the library refuses is an invalid schema; its message says why.
        catch (Exception ex) when (ex is not OutOfMemoryException)
#pragma warning restore CA1031
        {
            return $"response_schema is not a valid JSON Schema: {Short(ex.Message)}";
        }
    }

    /// <summary>Where <paramref name="instanceJson"/> fails <paramref name="schemaJson"/> (a checked schema); empty when it conforms.</summary>
    public static IReadOnlyList<ProblemError> Validate(string schemaJson, string instanceJson)
    {
        ArgumentNullException.ThrowIfNull(schemaJson);
        ArgumentNullException.ThrowIfNull(instanceJson);
        using var instance = JsonDocument.Parse(instanceJson);
        EvaluationResults results;
        try
        {
            results = Build(schemaJson).Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        }
        catch (RegexMatchTimeoutException)
        {
            return [new ProblemError("", "A pattern of the response schema took too long to match.")];
        }
        catch (FormatException)
        {
            // The validator compares numbers ('const', 'enum', 'uniqueItems') as decimals: a number outside their range throws.
            var numbers = Uncomparable(instance.RootElement, "").Take(50).ToList();
            return numbers.Count > 0
                ? numbers.Select(pointer => new ProblemError(pointer, "The number is too large or too precise to check (at most 28 significant digits, magnitude below 7.9e28).")).ToList()
                : [new ProblemError("", "The response_schema has a number that cannot be compared.")];
        }
        catch (SchemaLoopException ex)
        {
            // The schema was accepted (it does not loop on itself) but loops on this value: no answer of this shape can be
            // checked, so none is taken. The process is never at risk: the guard stops the loop long before the stack runs out.
            return [new ProblemError(ex.InstanceLocation, ex.Message)];
        }
        catch (Exception ex) when (ex is RefResolutionException or JsonSchemaException)
        {
            // A schema stored before references were checked at definition: the answer is refused, never a 500.
            return [new ProblemError("", $"The request's response_schema cannot be applied: {Short(ex.Message)}")];
        }

        if (results.IsValid)
        {
            return [];
        }

        var errors = (results.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Values.Select(message => new ProblemError(d.InstanceLocation.ToString(), message)))
            .Concat(results.Errors?.Values.Select(message => new ProblemError(results.InstanceLocation.ToString(), message)) ?? [])
            .Distinct()
            .Take(50)
            .ToList();
        return errors.Count > 0 ? errors : [new ProblemError("", "The value does not conform to the response schema.")];
    }

    private static JsonSchema Build(string schemaJson)
    {
        if (Built.TryGetValue(schemaJson, out var schema))
        {
            return schema;
        }

        schema = JsonSchema.FromText(
            schemaJson,
            new BuildOptions { Dialect = SafeDialect, DialectRegistry = Dialects, SchemaRegistry = new SchemaRegistry { Fetch = (_, _) => null } });
        if (Built.Count < 1024)
        {
            Built[schemaJson] = schema;
        }

        return schema;
    }

    private static DialectRegistry CreateDialects()
    {
        var registry = new DialectRegistry();
        registry.Register(SafeDialect);
        return registry;
    }

    /// <summary>A <c>$schema</c> anywhere that names another dialect (whose keywords would run unhardened), or null.</summary>
    private static string? OtherDialect(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var member in element.EnumerateObject())
                {
                    if (member.Name == "$schema" && !(member.Value.ValueKind == JsonValueKind.String && member.Value.GetString()!.TrimEnd('#') == DialectId))
                    {
                        return member.Value.ValueKind == JsonValueKind.String ? member.Value.GetString() : member.Value.GetRawText();
                    }

                    if (OtherDialect(member.Value) is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonValueKind.Array:
                return element.EnumerateArray().Select(OtherDialect).FirstOrDefault(found => found is not null);
            default:
                return null;
        }
    }

    /// <summary>A number under a <c>const</c> or <c>enum</c> that the validator cannot compare, or null.</summary>
    private static string? UncomparableConstant(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var member in element.EnumerateObject())
                {
                    var found = member.Name is "const" or "enum"
                        ? Uncomparable(member.Value, "").Select(_ => member.Value.GetRawText()).FirstOrDefault()
                        : UncomparableConstant(member.Value);
                    if (found is not null)
                    {
                        return found;
                    }
                }

                return null;
            case JsonValueKind.Array:
                return element.EnumerateArray().Select(UncomparableConstant).FirstOrDefault(found => found is not null);
            default:
                return null;
        }
    }

    /// <summary>The JSON pointers of the numbers in <paramref name="element"/> that do not fit a decimal.</summary>
    private static IEnumerable<string> Uncomparable(JsonElement element, string pointer)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Number when !element.TryGetDecimal(out _):
                yield return pointer;
                break;
            case JsonValueKind.Object:
                foreach (var member in element.EnumerateObject())
                {
                    foreach (var found in Uncomparable(member.Value, pointer + "/" + member.Name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)))
                    {
                        yield return found;
                    }
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    foreach (var found in Uncomparable(item, pointer + "/" + index.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                    {
                        yield return found;
                    }

                    index++;
                }

                break;
        }
    }

    private static string Short(string message) => message.Length <= 300 ? message : message[..300] + "…";

    /// <summary>
    /// <c>$ref</c> and <c>$dynamicRef</c>, stopped when they loop. The library follows a reference without limit, so a schema whose
    /// reference leads back to itself without descending into the value (<c>{"if":{"type":"object"},"then":{"$ref":"#"}}</c>)
    /// recursed until the stack overflowed, which ends the process (it cannot be caught). Every loop in a schema passes through a
    /// reference (a schema is a finite tree), and a loop that never ends evaluates the same reference at the same place of the
    /// value twice in one chain: that is refused, as is a chain deeper than <see cref="MaxReferenceDepth"/> or one that nears the
    /// end of the stack. (Subclasses of the library's keywords, which it recognises by type when it resolves references.)
    /// </summary>
    private static class ReferenceLoops
    {
        private const int MaxReferenceDepth = 256;

        [ThreadStatic]
        private static List<(KeywordData Keyword, string Location)>? t_chain;

        public static KeywordEvaluation Follow(
            string name, KeywordData keyword, EvaluationContext context, Func<KeywordData, EvaluationContext, KeywordEvaluation> evaluate)
        {
            var chain = t_chain ??= [];
            var location = context.InstanceLocation.ToString();
            if (chain.Exists(c => ReferenceEquals(c.Keyword, keyword) && c.Location == location))
            {
                throw new SchemaLoopException(
                    $"The response schema loops: its {name} {keyword.RawValue.GetRawText()} leads back to itself at the same place of the value.", location);
            }

            if (chain.Count >= MaxReferenceDepth || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
            {
                throw new SchemaLoopException($"The response schema follows more than {MaxReferenceDepth} references in a row for this value.", location);
            }

            chain.Add((keyword, location));
            try
            {
                return evaluate(keyword, context);
            }
            finally
            {
                chain.RemoveAt(chain.Count - 1);
            }
        }
    }

    /// <summary><c>$ref</c>, loop-guarded (<see cref="ReferenceLoops"/>).</summary>
    private sealed class GuardedRef : Json.Schema.Keywords.RefKeyword
    {
        public override KeywordEvaluation Evaluate(KeywordData keyword, EvaluationContext context) =>
            ReferenceLoops.Follow(Name, keyword, context, base.Evaluate);
    }

    /// <summary><c>$dynamicRef</c>, loop-guarded (<see cref="ReferenceLoops"/>).</summary>
    private sealed class GuardedDynamicRef : Json.Schema.Keywords.Draft202012.DynamicRefKeyword
    {
        public override KeywordEvaluation Evaluate(KeywordData keyword, EvaluationContext context) =>
            ReferenceLoops.Follow(Name, keyword, context, base.Evaluate);
    }

    /// <summary>A reference of a response schema loops for the value being checked (<see cref="ReferenceLoops"/>).</summary>
    private sealed class SchemaLoopException(string message, string instanceLocation) : JsonSchemaException(message)
    {
        public string InstanceLocation { get; } = instanceLocation;
    }

    /// <summary><c>pattern</c> on the linear-time engine (no backreferences or lookarounds), with a match timeout as well.</summary>
    private sealed class SafePattern : IKeywordHandler
    {
        public string Name => "pattern";

        public object? ValidateKeywordValue(JsonElement value)
        {
            if (value.ValueKind != JsonValueKind.String)
            {
                throw new JsonSchemaException("'pattern' must be a string.");
            }

            try
            {
                return new Regex(value.GetString()!, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, MatchTimeout);
            }
            catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
            {
                throw new JsonSchemaException($"'pattern' is not a supported regular expression (no backreferences or lookarounds): {ex.Message}");
            }
        }

        public void BuildSubschemas(KeywordData keyword, BuildContext context)
        {
        }

        public KeywordEvaluation Evaluate(KeywordData keyword, EvaluationContext context)
        {
            if (context.Instance.ValueKind != JsonValueKind.String)
            {
                return KeywordEvaluation.Ignore;
            }

            var matches = ((Regex)keyword.Value!).IsMatch(context.Instance.GetString()!);
            return new KeywordEvaluation
            {
                Keyword = Name,
                IsValid = matches,
                Error = matches ? null : $"The string does not match the pattern {keyword.RawValue.GetRawText()}.",
            };
        }
    }

    /// <summary>Refuses <c>patternProperties</c>: the library matches its regexes on the backtracking engine.</summary>
    private sealed class NoPatternProperties : IKeywordHandler
    {
        public string Name => "patternProperties";

        public object? ValidateKeywordValue(JsonElement value) =>
            throw new JsonSchemaException("'patternProperties' is not supported in a response schema; use 'propertyNames' with 'pattern'.");

        public void BuildSubschemas(KeywordData keyword, BuildContext context)
        {
        }

        public KeywordEvaluation Evaluate(KeywordData keyword, EvaluationContext context) => KeywordEvaluation.Ignore;
    }
}
