using System.Reflection;
using AgentRuns.Functions.Http;
using AgentRuns.Functions.Model;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace AgentRuns.LocalHost;

/// <summary>An HTTP function as the Functions host would route it: its name, its HTTP methods (none = any), its route.</summary>
public sealed record FunctionRoute(string Name, IReadOnlyList<string> Methods, string Route);

/// <summary>
/// Serves a Functions assembly's HTTP functions over ASP.NET Core routing, as the Functions host does: every public
/// <c>[Function]</c> method with an <c>[HttpTrigger]</c> parameter becomes an endpoint with the trigger's route and methods;
/// the declaring class is created per request with constructor injection; the returned <see cref="IResult"/> is executed.
/// Bindings this host cannot provide fail at start-up, not on the first request.
/// </summary>
public static partial class FunctionRouteMapper
{
    /// <summary>The HTTP functions of <paramref name="assembly"/>, ordered by name.</summary>
    public static IReadOnlyList<FunctionRoute> Discover(Assembly assembly) =>
        [.. FindHttpFunctions(assembly).Select(f => f.Route)];

    /// <summary>
    /// Maps the HTTP functions and answers every other request on <paramref name="apiPort"/> with a 404 problem
    /// (a wrong method too, as the Functions host does).
    /// </summary>
    public static IReadOnlyList<FunctionRoute> MapFunctions(this WebApplication app, Assembly assembly, int apiPort)
    {
        ArgumentNullException.ThrowIfNull(app);
        var functions = FindHttpFunctions(assembly);
        app.UseRouting();
        app.Use((context, next) =>
            context.Connection.LocalPort == apiPort && context.GetEndpoint()?.Metadata.GetMetadata<FunctionRoute>() is null
                ? NotFound(context)
                : next(context));

        foreach (var function in functions)
        {
            var invoke = CreateInvoker(function.Method, function.Route);
            var endpoint = function.Route.Methods.Count == 0
                ? app.Map(function.Route.Route, invoke)
                : app.MapMethods(function.Route.Route, function.Route.Methods, invoke);
            endpoint.WithDisplayName(function.Route.Name).WithMetadata(function.Route);
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(FunctionRouteMapper).Namespace!);
        foreach (var (route, _) in functions)
        {
            var methods = route.Methods.Count == 0 ? "ANY" : string.Join(",", route.Methods.Select(m => m.ToUpperInvariant()));
            LogFunction(logger, route.Name, methods, apiPort, route.Route);
        }

        return [.. functions.Select(f => f.Route)];
    }

    private static List<(FunctionRoute Route, MethodInfo Method)> FindHttpFunctions(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var functions = new List<(FunctionRoute, MethodInfo)>();
        foreach (var type in assembly.GetExportedTypes())
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                var function = method.GetCustomAttribute<FunctionAttribute>();
                var trigger = method.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).FirstOrDefault(a => a is not null);
                if (function is null || trigger is null)
                {
                    continue;
                }

                // As the Functions host: no route means the function's name; no methods means any method.
                var route = new FunctionRoute(function.Name, [.. trigger.Methods ?? []], (trigger.Route ?? function.Name).TrimStart('/'));
                functions.Add((route, method));
            }
        }

        return [.. functions.OrderBy(f => f.Item1.Name, StringComparer.Ordinal)];
    }

    private static RequestDelegate CreateInvoker(MethodInfo method, FunctionRoute route)
    {
        var routeParameters = RoutePatternFactory.Parse(route.Route).Parameters.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var binders = method.GetParameters().Select(p => CreateBinder(p, routeParameters, route)).ToArray();
        var complete = CreateCompletion(method, route);
        var factory = method.IsStatic ? null : ActivatorUtilities.CreateFactory(method.DeclaringType!, Type.EmptyTypes);

        return async context =>
        {
            var instance = factory?.Invoke(context.RequestServices, null);
            try
            {
                var arguments = binders.Select(bind => bind(context)).ToArray();
                var returned = method.Invoke(instance, BindingFlags.DoNotWrapExceptions, binder: null, arguments, culture: null);
                var result = await complete(returned);
                if (result is not null)
                {
                    await result.ExecuteAsync(context);
                }
            }
            finally
            {
                switch (instance)
                {
                    case IAsyncDisposable asyncDisposable:
                        await asyncDisposable.DisposeAsync();
                        break;
                    case IDisposable disposable:
                        disposable.Dispose();
                        break;
                }
            }
        };
    }

    private static Func<HttpContext, object?> CreateBinder(ParameterInfo parameter, HashSet<string> routeParameters, FunctionRoute route)
    {
        var type = parameter.ParameterType;
        if (type == typeof(HttpRequest))
        {
            return context => context.Request;
        }

        if (type == typeof(CancellationToken))
        {
            return context => context.RequestAborted;
        }

        if (type == typeof(DurableTaskClient))
        {
            return context => context.RequestServices.GetRequiredService<DurableTaskClient>();
        }

        if (type == typeof(string) && routeParameters.Contains(parameter.Name!))
        {
            var name = parameter.Name!;
            return context => context.Request.RouteValues.TryGetValue(name, out var value) ? Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) : null;
        }

        throw new InvalidOperationException(
            $"The local host cannot bind parameter '{parameter.Name}' ({type.Name}) of function '{route.Name}': " +
            "add the binding to FunctionRouteMapper.");
    }

    private static Func<object?, Task<IResult?>> CreateCompletion(MethodInfo method, FunctionRoute route)
    {
        var type = method.ReturnType;
        if (typeof(IResult).IsAssignableFrom(type))
        {
            return returned => Task.FromResult((IResult?)returned);
        }

        if (type == typeof(Task<IResult>))
        {
            return async returned => await (Task<IResult>)returned!;
        }

        if (type == typeof(ValueTask<IResult>))
        {
            return async returned => await (ValueTask<IResult>)returned!;
        }

        if (type == typeof(Task))
        {
            // The function wrote the response itself.
            return async returned =>
            {
                await (Task)returned!;
                return null;
            };
        }

        if (type == typeof(void))
        {
            return _ => Task.FromResult<IResult?>(null);
        }

        throw new InvalidOperationException(
            $"The local host cannot serve function '{route.Name}': it returns {type.Name}; return IResult, Task<IResult> or Task.");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Function}: [{Methods}] http://127.0.0.1:{Port}/{Route}")]
    private static partial void LogFunction(ILogger logger, string function, string methods, int port, string route);

    private static Task NotFound(HttpContext context) =>
        ApiResults.Problem(new ApiException(
            StatusCodes.Status404NotFound, ReasonCodes.NotFound, "Not found", $"No function serves {context.Request.Method} {context.Request.Path}."))
            .ExecuteAsync(context);
}
